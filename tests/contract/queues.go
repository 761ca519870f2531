package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func (f *fixture) setPaused(queue string, paused bool, now time.Time) bool {
	f.t.Helper()
	changed, err := f.s.SetQueuePaused(f.ctx, queue, paused, now)
	f.noErr(err, "SetQueuePaused")
	return changed
}

func (f *fixture) queues() map[string]domain.QueueInfo {
	f.t.Helper()
	list, err := f.s.ListQueues(f.ctx)
	f.noErr(err, "ListQueues")
	out := map[string]domain.QueueInfo{}
	for i, q := range list {
		if i > 0 && list[i-1].Name >= q.Name {
			f.t.Errorf("%s: ListQueues not ordered by name: %q before %q", f.name, list[i-1].Name, q.Name)
		}
		out[q.Name] = q
	}
	return out
}

func testQueues(t *testing.T, h storeSuite) {
	h.run(t, "a paused queue's pending tasks are not claimed until it is resumed; other queues are", func(t *testing.T, f *fixture) {
		fn := "fn-" + domain.NewID()[:8]
		_, held := f.create(execOpts{Fn: fn, Queue: "held"})
		_, free := f.create(execOpts{Fn: fn, Queue: "free", CreatedAt: at(time.Second)})
		if !f.setPaused("held", true, at(2*time.Second)) {
			t.Errorf("pausing a new queue reported no change")
		}
		got := f.claimFns(at(time.Minute), fn)
		if len(got) != 1 || got[0].ID != free.ID {
			t.Fatalf("claim with held paused = %v; want only %s", taskIDList(got), free.ID)
		}
		if f.setPaused("held", true, at(3*time.Second)) {
			t.Errorf("pausing a paused queue reported a change")
		}
		f.eq("claim while paused", len(f.claimFns(at(time.Minute), fn)), 0)
		if !f.setPaused("held", false, at(4*time.Second)) {
			t.Errorf("resuming a paused queue reported no change")
		}
		if f.setPaused("held", false, at(5*time.Second)) {
			t.Errorf("resuming a resumed queue reported a change")
		}
		got = f.claimFns(at(time.Minute), fn)
		if len(got) != 1 || got[0].ID != held.ID {
			t.Fatalf("claim after resume = %v; want %s", taskIDList(got), held.ID)
		}
	})

	h.run(t, "a paused queue still accepts dispatches and lets its running tasks finish", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{Queue: "q"})
		f.setPaused("q", true, at(time.Second))
		later, _ := f.create(execOpts{Fn: root.StepName, Queue: "q", CreatedAt: at(2 * time.Second)})
		f.eq("new execution state", f.exec(later.ID).State, domain.ExecutionPending)
		spec := activitySpec(root, 1, "child")
		spec.Queue = "q"
		child := f.steps(root, at(3*time.Second), spec)[0]
		f.eq("child of a running task in a paused queue", child.State, domain.TaskPending)
		f.eq("claims in the paused queue", len(f.claimFns(at(time.Minute), root.StepName, "child")), 0)
		f.complete(root, `"done"`, at(4*time.Second))
		f.execState(e.ID, domain.ExecutionCompleted)
	})

	h.run(t, "expired leases and due waiting tasks of a paused queue are not claimed and NextWake ignores them", func(t *testing.T, f *fixture) {
		_, sleeper := f.start(execOpts{Queue: "q"})
		wake := at(time.Hour)
		f.steps(sleeper, at(time.Second), sleepSpec(sleeper, 1, wake))
		f.park(sleeper, ports.ParkParams{WakeAt: &wake, Now: at(2 * time.Second)}, true)
		_, lost := f.start(execOpts{Queue: "q"}) // lease storeLease from epoch
		f.setPaused("q", true, at(3*time.Second))
		if next, ok := f.nextWake(sleeper.StepName); ok {
			t.Errorf("NextWake with the queue paused = %v; want none", next)
		}
		late := at(2 * storeLease)
		f.eq("claims after wake and lease expiry, paused", len(f.claimFns(late, sleeper.StepName, lost.StepName)), 0)
		f.setPaused("q", false, at(4*time.Second))
		if next, ok := f.nextWake(sleeper.StepName); !ok || !next.Equal(wake) {
			t.Errorf("NextWake after resume = %v, %v; want %v", next, ok, wake)
		}
		f.eq("claims after resume", len(f.claimFns(late, sleeper.StepName, lost.StepName)), 2)
	})

	h.run(t, "queues are listed with pending and running counts, the oldest pending time and the pause", func(t *testing.T, f *fixture) {
		f.eq("queues of an empty store", len(f.queues()), 0)
		_, run := f.start(execOpts{Queue: "a"})
		f.create(execOpts{Queue: "a", CreatedAt: at(2 * time.Second)})
		f.create(execOpts{Queue: "a", CreatedAt: at(time.Second)})
		f.create(execOpts{Queue: "b", CreatedAt: at(3 * time.Second)})
		f.setPaused("b", true, at(4*time.Second))
		f.setPaused("idle", true, at(5*time.Second))
		f.setPaused("was", true, at(5*time.Second))
		f.setPaused("was", false, at(6*time.Second))
		f.steps(run, at(7*time.Second), sleepSpec(run, 1, at(time.Hour))) // a sleep is not runnable work
		qs := f.queues()
		f.eq("queue names", len(qs), 4)
		a := qs["a"]
		f.eq("a pending", a.Pending, 2)
		f.eq("a running", a.Running, 1)
		f.eqTimePtr("a oldest pending", a.OldestPendingAt, ptrTo(at(time.Second)))
		f.eq("a paused", a.Paused, false)
		f.eqTimePtr("a paused_at", a.PausedAt, nil)
		b := qs["b"]
		f.eq("b pending, running, paused", []any{b.Pending, b.Running, b.Paused}, []any{1, 0, true})
		f.eqTimePtr("b paused_at", b.PausedAt, ptrTo(at(4*time.Second)))
		idle := qs["idle"]
		f.eq("idle pending, running, paused", []any{idle.Pending, idle.Running, idle.Paused}, []any{0, 0, true})
		f.eqTimePtr("idle oldest pending", idle.OldestPendingAt, nil)
		was := qs["was"]
		f.eq("resumed queue paused", was.Paused, false)
		f.eqTimePtr("resumed queue paused_at", was.PausedAt, nil)
	})

	h.run(t, "pausing a paused queue keeps its first pause time", func(t *testing.T, f *fixture) {
		f.setPaused("q", true, at(time.Second))
		f.setPaused("q", true, at(time.Minute))
		f.eqTimePtr("paused_at", f.queues()["q"].PausedAt, ptrTo(at(time.Second)))
	})

	h.run(t, "a bad queue name is an invalid argument and changes nothing", func(t *testing.T, f *fixture) {
		for _, name := range []string{"", "a\x00b", "tab\there"} {
			_, err := f.s.SetQueuePaused(f.ctx, name, true, at(time.Second))
			f.isErr(err, domain.ErrInvalidArgument, "SetQueuePaused "+name)
		}
		f.eq("queues", len(f.queues()), 0)
	})
}

func taskIDList(ts []domain.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}
