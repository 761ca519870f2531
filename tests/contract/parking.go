package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// park parks the running task t and fails the test unless the store
// reports want.
func (f *fixture) park(t domain.Task, p ports.ParkParams, want bool) {
	f.t.Helper()
	p.Fence = t.Fence()
	got, err := f.s.ParkTask(f.ctx, p)
	f.noErr(err, "ParkTask")
	if got != want {
		f.t.Fatalf("%s: ParkTask parked = %v; want %v", f.name, got, want)
	}
}

// nextWake returns NextWake for fns.
func (f *fixture) nextWake(fns ...string) (time.Time, bool) {
	f.t.Helper()
	at, ok, err := f.s.NextWake(f.ctx, ports.ClaimParams{WorkerID: workerA, Functions: fns, Limit: 1, Lease: storeLease})
	f.noErr(err, "NextWake")
	return at, ok
}

// completeAll completes the claimed tasks in one CompleteTasks batch and
// returns the ids of the tasks they woke.
func (f *fixture) completeAll(now time.Time, ts ...domain.Task) []string {
	f.t.Helper()
	ps := make([]ports.CompleteParams, len(ts))
	for i, t := range ts {
		ps[i] = ports.CompleteParams{Fence: t.Fence(), Result: js(`1`), Now: now}
	}
	res, err := f.s.CompleteTasks(f.ctx, ps)
	f.noErr(err, "CompleteTasks")
	var woken []string
	for i, r := range res {
		f.noErr(r.Err, "CompleteTasks item "+ts[i].ID)
		for _, w := range r.Woken {
			woken = append(woken, w.ID)
		}
	}
	return woken
}

func testParking(t *testing.T, h storeSuite) {
	h.run(t, "a task parked on a sleep holds no lease and resumes at its wake time without spending an attempt", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		wake := at(time.Hour)
		sleep := f.steps(root, at(time.Second), sleepSpec(root, 1, wake))[0]
		f.park(root, ports.ParkParams{WakeAt: &wake, Now: at(2 * time.Second)}, true)

		got := f.task(root.ID)
		f.eq("state", got.State, domain.TaskWaiting)
		f.eq("worker", got.WorkerID, "")
		f.eq("token", got.ClaimToken, "")
		f.eqTimePtr("lease", got.LeaseExpiresAt, nil)
		f.eqTimePtr("wake_at", got.WakeAt, &wake)
		f.eq("attempt while parked", got.Attempt, root.Attempt)
		f.execState(root.ExecutionID, domain.ExecutionRunning)
		if next, ok := f.nextWake(root.StepName); !ok || !next.Equal(wake) {
			t.Errorf("NextWake = %v, %v; want %v", next, ok, wake)
		}
		f.eq("claimable 1µs before its wake time", len(f.claimFns(wake.Add(-time.Microsecond), root.StepName)), 0)
		err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: root.Fence(), Result: js(`1`), Now: at(3 * time.Second)})
		f.isErr(err, domain.ErrLeaseLost, "completing with the fence held before parking")

		resumed := f.claimOne(wake, root.StepName)
		f.eq("resumed task", resumed.ID, root.ID)
		f.eq("resumed state", resumed.State, domain.TaskRunning)
		f.eq("attempt after resume", resumed.Attempt, root.Attempt)
		f.eq("recoveries after resume", resumed.Recoveries, 0)
		f.eqTimePtr("wake_at after resume", resumed.WakeAt, nil)
		f.eqTimePtr("started_at kept", resumed.StartedAt, root.StartedAt)
		if resumed.ClaimToken == "" || resumed.ClaimToken == root.ClaimToken {
			t.Errorf("resume token %q; want a new token (before %q)", resumed.ClaimToken, root.ClaimToken)
		}
		s := f.task(sleep.ID)
		f.eq("due sleep completed by the resume", s.State, domain.TaskCompleted)
		f.eqTimePtr("sleep finished_at", s.FinishedAt, &wake)
		if _, ok := f.nextWake(root.StepName); ok {
			t.Errorf("NextWake found a wake-up after the resume")
		}
		f.complete(resumed, `"done"`, wake.Add(time.Second))
		f.execState(root.ExecutionID, domain.ExecutionCompleted)
	})

	h.run(t, "a resume completes only the sleeps that are due", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		wake := at(time.Minute)
		later := f.steps(root, at(time.Second), sleepSpec(root, 1, at(time.Hour)))[0]
		f.park(root, ports.ParkParams{WakeAt: &wake, Now: at(time.Second)}, true)
		f.claimOne(wake, root.StepName)
		f.state(later.ID, domain.TaskPending)
	})

	h.run(t, "a task parked on a signal wakes when the signal is delivered", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		sig := f.steps(root, at(time.Second), signalSpec(root, 1, "approval"))[0]
		f.park(root, ports.ParkParams{Children: []string{sig.ID}, Now: at(2 * time.Second)}, true)
		got := f.task(root.ID)
		f.eq("state", got.State, domain.TaskWaiting)
		f.eqTimePtr("wake_at while waiting for a signal", got.WakeAt, nil)
		f.eq("awaited", f.task(sig.ID).Awaited, true)
		if _, ok := f.nextWake(root.StepName); ok {
			t.Errorf("NextWake found a wake-up for a task waiting on a signal only")
		}
		f.eq("claimable before the signal", len(f.claimFns(at(time.Hour), root.StepName)), 0)

		delivered, err := f.s.SendSignal(f.ctx, root.ExecutionID, "approval", js(`{"ok":true}`), at(2*time.Hour))
		f.noErr(err, "SendSignal")
		if delivered == nil || delivered.ID != sig.ID {
			t.Fatalf("SendSignal delivered %v; want the step %s", delivered, sig.ID)
		}
		f.eqTimePtr("wake_at after delivery", f.task(root.ID).WakeAt, ptrTo(at(2*time.Hour)))
		resumed := f.claimOne(at(2*time.Hour), root.StepName)
		f.eq("resumed", resumed.ID, root.ID)
		f.eqRaw("payload kept on the step", f.task(sig.ID).Result, js(`{"ok":true}`))
	})

	h.run(t, "a parent parked on several children wakes once, when the last one ends", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kids := f.steps(root, at(time.Second),
			activitySpec(root, 1, "kid"), activitySpec(root, 2, "kid"), activitySpec(root, 3, "kid"))
		claimed := f.claimFns(at(time.Second), "kid")
		f.eq("claimed children", len(claimed), 3)
		f.park(root, ports.ParkParams{Children: taskIDs(kids), Now: at(2 * time.Second)}, true)

		f.eq("woken by the first child", len(f.completeAll(at(3*time.Second), claimed[0])), 0)
		f.eq("woken by the second child", len(f.completeAll(at(4*time.Second), claimed[1])), 0)
		f.eq("claimable with a child left", len(f.claimFns(at(time.Hour), root.StepName)), 0)
		woken := f.completeAll(at(5*time.Second), claimed[2])
		f.eq("woken by the last child", woken, []string{root.ID})
		f.eqTimePtr("wake_at", f.task(root.ID).WakeAt, ptrTo(at(5*time.Second)))
		f.eq("resumed", f.claimOne(at(5*time.Second), root.StepName).ID, root.ID)
	})

	h.run(t, "children ending in one batch wake their parent once", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kids := f.steps(root, at(time.Second), activitySpec(root, 1, "kid"), activitySpec(root, 2, "kid"))
		claimed := f.claimFns(at(time.Second), "kid")
		f.park(root, ports.ParkParams{Children: taskIDs(kids), Now: at(2 * time.Second)}, true)
		f.eq("woken", f.completeAll(at(3*time.Second), claimed...), []string{root.ID})
	})

	h.run(t, "a failed child wakes its parked parent", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kid := f.steps(root, at(time.Second), activitySpec(root, 1, "kid"))[0]
		running := f.claimID(at(time.Second), kid.ID)
		f.park(root, ports.ParkParams{Children: []string{kid.ID}, Now: at(2 * time.Second)}, true)
		f.fail(running, "boom", at(3*time.Second))
		f.eqTimePtr("wake_at", f.task(root.ID).WakeAt, ptrTo(at(3*time.Second)))
		f.eq("resumed", f.claimOne(at(3*time.Second), root.StepName).ID, root.ID)
	})

	h.run(t, "only the awaited children wake the parent", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kids := f.steps(root, at(time.Second), activitySpec(root, 1, "awaited"), activitySpec(root, 2, "other"))
		other := f.claimID(at(time.Second), kids[1].ID)
		awaited := f.claimID(at(time.Second), kids[0].ID)
		f.park(root, ports.ParkParams{Children: []string{kids[0].ID}, Now: at(2 * time.Second)}, true)
		f.eq("other awaited", f.task(other.ID).Awaited, false)
		f.eq("woken by a child it does not wait for", len(f.completeAll(at(3*time.Second), other)), 0)
		f.eq("claimable", len(f.claimFns(at(time.Hour), root.StepName)), 0)
		f.eq("woken", f.completeAll(at(4*time.Second), awaited), []string{root.ID})
	})

	h.run(t, "a parent waiting on children with a deadline wakes at the deadline", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kid := f.steps(root, at(time.Second), activitySpec(root, 1, "slow"))[0]
		deadline := at(time.Minute)
		f.park(root, ports.ParkParams{Children: []string{kid.ID}, WakeAt: &deadline, Now: at(2 * time.Second)}, true)
		f.eq("resumed at the deadline with the child live", f.claimOne(deadline, root.StepName).ID, root.ID)
		f.state(kid.ID, domain.TaskPending)
	})

	h.run(t, "parking on children that have all ended writes nothing", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		kid := f.steps(root, at(time.Second), activitySpec(root, 1, "kid"))[0]
		f.complete(f.claimID(at(time.Second), kid.ID), `1`, at(2*time.Second))
		before := f.snapshot(root.ExecutionID)
		f.park(root, ports.ParkParams{Children: []string{kid.ID}, Now: at(3 * time.Second)}, false)
		f.unchanged(before, "ParkTask with every child ended", root.ExecutionID)
		f.complete(root, `"ok"`, at(4*time.Second)) // the fence still holds
	})

	h.run(t, "a link completed by its owner wakes the link's parked parent", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		link := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
		f.wantLink(link, holder.ID)
		linkParent := f.task(link.ParentTaskID)
		f.park(linkParent, ports.ParkParams{Children: []string{link.ID}, Now: at(3 * time.Second)}, true)
		woken := f.completeAll(at(4*time.Second), f.claimID(at(3*time.Second), holder.ID))
		f.eq("woken", woken, []string{linkParent.ID})
		f.state(link.ID, domain.TaskCompleted)
	})

	h.run(t, "a resume waits for its function's concurrency limit", func(t *testing.T, f *fixture) {
		fn := "limited-" + domain.NewID()[:8]
		_, first := f.start(execOpts{Fn: fn, MaxConcurrent: 1})
		wake := at(time.Minute)
		f.park(first, ports.ParkParams{WakeAt: &wake, Now: at(time.Second)}, true)
		_, second := f.create(execOpts{Fn: fn, MaxConcurrent: 1, CreatedAt: at(2 * time.Second)})
		running := f.claimOne(at(2*time.Second), fn)
		f.eq("second started while the first is parked", running.ID, second.ID)
		f.eq("claimable at the limit", len(f.claimFns(wake, fn)), 0)
		f.complete(running, `1`, wake)
		f.eq("resumed once a slot frees", f.claimOne(wake, fn).ID, first.ID)
	})

	h.run(t, "NextWake follows the claim's routing", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{Queue: "slow"})
		wake := at(time.Hour)
		f.park(root, ports.ParkParams{WakeAt: &wake, Now: at(time.Second)}, true)
		for _, tc := range []struct {
			name string
			p    ports.ClaimParams
			want bool
		}{
			{"its function and queue", ports.ClaimParams{Functions: []string{root.StepName}, Queues: []string{"slow"}}, true},
			{"another function", ports.ClaimParams{Functions: []string{"other"}}, false},
			{"another queue", ports.ClaimParams{Functions: []string{root.StepName}, Queues: []string{"fast"}}, false},
		} {
			tc.p.WorkerID, tc.p.Limit, tc.p.Lease = workerA, 1, storeLease
			_, ok, err := f.s.NextWake(f.ctx, tc.p)
			f.noErr(err, "NextWake")
			f.eq("NextWake for "+tc.name, ok, tc.want)
		}
	})

	h.run(t, "cancelling an execution cancels its parked task", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		sig := f.steps(root, at(time.Second), signalSpec(root, 1, "never"))[0]
		f.park(root, ports.ParkParams{Children: []string{sig.ID}, Now: at(2 * time.Second)}, true)
		_, changed, err := f.s.CancelExecution(f.ctx, root.ExecutionID, at(3*time.Second))
		f.noErr(err, "CancelExecution")
		f.eq("changed", changed, true)
		f.state(root.ID, domain.TaskCancelled)
		f.state(sig.ID, domain.TaskCancelled)
		f.eq("claimable", len(f.claimFns(at(time.Hour), root.StepName)), 0)
	})

	h.run(t, "a timed-out execution's parked task is cancelled", func(t *testing.T, f *fixture) {
		deadline := at(time.Minute)
		_, root := f.start(execOpts{Deadline: &deadline})
		wake := at(time.Hour)
		f.park(root, ports.ParkParams{WakeAt: &wake, Now: at(time.Second)}, true)
		ids, err := f.s.ExpireOverdue(f.ctx, at(2*time.Minute), 10)
		f.noErr(err, "ExpireOverdue")
		f.eq("expired", ids, []string{root.ExecutionID})
		f.state(root.ID, domain.TaskCancelled)
	})

	h.run(t, "parking is fenced", func(t *testing.T, f *fixture) {
		ll := f.newLostLease()
		wake := at(time.Hour)
		_, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: ll.old.Fence(), WakeAt: &wake, Now: at(3 * time.Minute)})
		f.isErr(err, domain.ErrLeaseLost, "ParkTask with a stale fence")
		f.state(ll.fresh.ID, domain.TaskRunning)
	})

	h.run(t, "parking without a condition or on another task's step is bad input", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		_, other := f.start(execOpts{})
		foreign := f.steps(other, at(time.Second), activitySpec(other, 1, "kid"))[0]
		before := f.snapshot(root.ExecutionID, other.ExecutionID)
		_, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: root.Fence(), Now: at(time.Second)})
		f.isErr(err, domain.ErrInvalidArgument, "ParkTask without a wake-up time or children")
		_, err = f.s.ParkTask(f.ctx, ports.ParkParams{Fence: root.Fence(), Children: []string{foreign.ID}, Now: at(time.Second)})
		f.errNames(err, domain.ErrInvalidArgument, foreign.ID, "ParkTask on another task's step")
		f.unchanged(before, "rejected ParkTask calls", root.ExecutionID, other.ExecutionID)
	})

	h.run(t, "waiting tasks are live in counts, lists and the progress log", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		wake := at(time.Hour)
		f.steps(root, at(time.Second), sleepSpec(root, 1, wake))
		f.park(root, ports.ParkParams{WakeAt: &wake, Now: at(time.Second)}, true)
		got, err := f.s.ListTasks(f.ctx, ports.TaskFilter{States: []domain.TaskState{domain.TaskWaiting}})
		f.noErr(err, "ListTasks waiting")
		f.eq("waiting tasks", taskIDs(got), []string{root.ID})
		var waiting int64
		for _, g := range f.taskCounts() {
			if g.State == domain.TaskWaiting {
				waiting += g.N
			}
		}
		f.eq("CountTasks waiting", waiting, 1)
		prog, err := f.s.ListProgress(f.ctx, root.ExecutionID)
		f.noErr(err, "ListProgress")
		for _, p := range prog {
			switch p.TaskID {
			case root.ID:
				f.eq("progress state", p.State, domain.TaskWaiting)
				f.eqTimePtr("progress wake_at", p.WakeAt, &wake)
			default:
				f.eqTimePtr("sleep scheduled_for in the progress log", p.ScheduledFor, &wake)
			}
		}
	})
}
