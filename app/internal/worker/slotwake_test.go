package worker

import (
	"context"
	"testing"

	"github.com/stenthq/stent/app/internal/slots"
	"github.com/stenthq/stent/ports"
)

// noClaims is a store with nothing to claim.
type noClaims struct{ ports.Store }

func (noClaims) ClaimTasks(context.Context, ports.ClaimParams) ([]ports.ClaimedTask, error) {
	return nil, nil
}

// woken reports whether the claim loop was poked, and takes the poke.
func woken(w *Worker) bool {
	select {
	case <-w.wake:
		return true
	default:
		return false
	}
}

// Regression (W8 on PostgreSQL, 2 claims per job): every slot given back
// woke the claim loop, so each finished job cost an empty claim. A freed
// slot wakes it only when a claim found no free slot since (work may be
// waiting for one), or when the slot's task counted against a concurrency
// limit (it may have held back a task of its group).
func TestAFreedSlotWakesTheClaimLoopOnlyWhenAClaimMayBeWaiting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, st, _, _, _ := newWakeWorker() // one slot
	w.env.Run.Store = noClaims{st}

	// A claim with a free slot that took every claimable task: the task
	// finishing after it has nothing to wake.
	if n, _, err := w.claimOnce(ctx); err != nil || n != 0 {
		t.Fatalf("claim: %d, %v", n, err)
	}
	h := &slots.Holder{}
	w.slots.Take(h)
	w.slots.GiveBack(h)
	if woken(w) {
		t.Fatal("a slot freed after a claim that had room woke the claim loop")
	}

	// A claim that found every slot taken: the next freed slot wakes the
	// loop, once.
	w.slots.Take(h)
	if n, _, err := w.claimOnce(ctx); err != nil || n != 0 {
		t.Fatalf("claim with no free slot: %d, %v", n, err)
	}
	w.slots.GiveBack(h)
	if !woken(w) {
		t.Fatal("a slot freed after a claim found none free did not wake the claim loop")
	}
	w.slots.Take(h)
	w.slots.GiveBack(h)
	if woken(w) {
		t.Fatal("a second freed slot woke the claim loop again without a claim short of slots")
	}

	// A limited task's slot always wakes it.
	lim := &slots.Holder{Limited: true}
	w.slots.Take(lim)
	w.slots.GiveBack(lim)
	if !woken(w) {
		t.Fatal("a limited task's freed slot did not wake the claim loop")
	}
}
