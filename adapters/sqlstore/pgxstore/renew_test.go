package pgxstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Regression (W8 at 1,000/s: a 1.1 s stall): a lease renewal, which
// updates every task a worker runs, and a batch completion of some of
// them locked their rows in different orders and deadlocked; PostgreSQL
// broke the cycle only after deadlock_timeout (1 s). A renewal now skips
// the rows another transaction holds (the task stays held by this worker
// with its lease as it was; the next renewal extends it), so it never
// waits for a row lock and cannot be part of a deadlock.
func TestARenewalDoesNotWaitForARowAnotherTransactionHolds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, schema, s := newPoolStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var fences []domain.Fence
	for _, id := range []string{"a", "b"} {
		exec := domain.Execution{ID: id, RootFunction: "f", RootTaskID: id + "/root", CreatedAt: now}
		root := domain.Task{ID: id + "/root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "f", CreatedAt: now}
		if _, _, err := ports.CreateExecution(ctx, s, exec, root); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w1", Functions: []string{"f"}, Limit: 2, Now: now, Lease: time.Minute})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v, %d tasks", err, len(claimed))
	}
	leases := map[string]time.Time{}
	for _, c := range claimed {
		fences = append(fences, c.Task.Fence())
		leases[c.Task.ID] = *c.Task.LeaseExpiresAt
	}

	// Another transaction holds the row of a's root.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM "`+schema+`".tasks WHERE id = 'a/root' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	later := now.Add(10 * time.Second)
	statuses, err := s.RenewLeases(rctx, fences, later, time.Minute)
	if err != nil {
		t.Fatalf("renewal with a row held elsewhere: %v; want it to skip that row", err)
	}
	for i, st := range statuses {
		id := fences[i].TaskID
		if !st.Held {
			t.Fatalf("%s: not held after the renewal: %+v", id, st)
		}
		want := later.Add(time.Minute)
		if id == "a/root" {
			want = leases[id] // skipped: the lease as it was
		}
		if !st.LeaseExpiresAt.Equal(want) {
			t.Errorf("%s: lease until %v; want %v", id, st.LeaseExpiresAt, want)
		}
	}
}
