package contract

import (
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// lostLease is a child task "job" whose first owner (workerA, lease 1 min
// from epoch+1s) created a due sleep and a failed call, then lost its lease:
// workerB reclaimed it at epoch+2m.
type lostLease struct {
	exec               domain.Execution
	old, fresh         domain.Task
	sleep, failedChild domain.Task
}

func (f *fixture) newLostLease() lostLease {
	f.t.Helper()
	e, root := f.start(execOpts{})
	rec := f.steps(root, at(time.Second), activitySpec(root, 1, "job"))[0]
	old := f.claim(ports.ClaimParams{Functions: []string{"job"}, Now: at(time.Second), Lease: time.Minute})
	if len(old) != 1 || old[0].ID != rec.ID {
		f.t.Fatalf("%s: claim of job = %v; want %s", f.name, taskIDs(old), rec.ID)
	}
	kids := f.steps(old[0], at(2*time.Second), sleepSpec(old[0], 1, at(3*time.Second)), activitySpec(old[0], 2, "flaky"))
	flaky := f.claimID(at(2*time.Second), kids[1].ID)
	f.fail(flaky, "boom", at(3*time.Second))
	fresh := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: at(2 * time.Minute)})
	if len(fresh) != 1 || fresh[0].ID != rec.ID {
		f.t.Fatalf("%s: reclaim of job = %v; want %s", f.name, taskIDs(fresh), rec.ID)
	}
	return lostLease{exec: e, old: old[0], fresh: fresh[0], sleep: f.task(kids[0].ID), failedChild: f.task(kids[1].ID)}
}

func testFencing(t *testing.T, h storeSuite) {
	h.run(t, "an expired lease is reclaimed and only the new owner's result stands", func(t *testing.T, f *fixture) {
		ll := f.newLostLease()
		old, fresh := ll.old, ll.fresh
		f.eq("reclaim attempt (a recovery is not an attempt)", fresh.Attempt, old.Attempt)
		f.eq("reclaim recoveries", fresh.Recoveries, old.Recoveries+1)
		f.eq("reclaim worker", fresh.WorkerID, workerB)
		if fresh.ClaimToken == "" || fresh.ClaimToken == old.ClaimToken {
			t.Errorf("reclaim token %q; want a new token (old %q)", fresh.ClaimToken, old.ClaimToken)
		}
		f.eq("generation after reclaim", fresh.Generation, old.Generation)
		f.eqTimePtr("started_at kept", fresh.StartedAt, old.StartedAt)
		f.eqTimePtr("new lease", fresh.LeaseExpiresAt, ptrTo(at(2*time.Minute+storeLease)))
		f.isErr(fresh.LastError, domain.ErrLeaseLost, "reclaim last error")

		err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: old.Fence(), Result: js(`"old"`), Now: at(3 * time.Minute)})
		f.isErr(err, domain.ErrLeaseLost, "CompleteTask with the old fence")
		f.complete(fresh, `"new"`, at(4*time.Minute))
		err = ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: old.Fence(), Result: js(`"old"`), Now: at(5 * time.Minute)})
		f.isErr(err, domain.ErrLeaseLost, "CompleteTask with the old fence after the new owner finished")
		got := f.task(fresh.ID)
		f.eq("state", got.State, domain.TaskCompleted)
		f.eqRaw("result", got.Result, js(`"new"`))
	})

	stale := []struct {
		name string
		op   func(f *fixture, ll lostLease, now time.Time) error
	}{
		{"complete a task", func(f *fixture, ll lostLease, now time.Time) error {
			return ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: ll.old.Fence(), Result: js(`1`),
				Ops: []domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}, Now: now})
		}},
		{"complete a task in a batch", func(f *fixture, ll lostLease, now time.Time) error {
			res, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{{Fence: ll.old.Fence(), Result: js(`1`), Now: now}})
			if err != nil {
				return fmt.Errorf("batch error %w", err)
			}
			if len(res) != 1 {
				return fmt.Errorf("%d item results for 1 item", len(res))
			}
			return res[0].Err
		}},
		{"fail a task", func(f *fixture, ll lostLease, now time.Time) error {
			return f.s.FailTask(f.ctx, ports.FailParams{Fence: ll.old.Fence(), Error: storeError("late"), Reason: "late", Now: now})
		}},
		{"retry a task", func(f *fixture, ll lostLease, now time.Time) error {
			return f.s.RetryTask(f.ctx, ports.RetryParams{Fence: ll.old.Fence(), Error: storeError("late"), RunAt: now, Now: now})
		}},
		{"release a task", func(f *fixture, ll lostLease, now time.Time) error {
			return f.s.ReleaseTask(f.ctx, ll.old.Fence(), now, true)
		}},
		{"create steps", func(f *fixture, ll lostLease, now time.Time) error {
			_, err := ports.CreateSteps(f.ctx, f.s, ll.old.Fence(), []ports.StepSpec{activitySpec(ll.old, 3, "new")},
				[]domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}, now)
			return err
		}},
		{"reset a step", func(f *fixture, ll lostLease, now time.Time) error {
			_, err := f.s.ResetStep(f.ctx, ll.old.Fence(), activitySpec(ll.old, 2, "flaky"), now)
			return err
		}},
		{"complete a sleep", func(f *fixture, ll lostLease, now time.Time) error {
			_, err := f.s.CompleteSleep(f.ctx, ll.old.Fence(), ll.sleep.ID, now)
			return err
		}},
	}
	for _, op := range stale {
		h.run(t, "a stale fence cannot "+op.name, func(t *testing.T, f *fixture) {
			ll := f.newLostLease()
			before := f.snapshot(ll.exec.ID)
			err := op.op(f, ll, at(3*time.Minute))
			f.isErr(err, domain.ErrLeaseLost, op.name+" with a stale fence")
			f.unchanged(before, op.name+" with a stale fence", ll.exec.ID)
		})
	}

	h.run(t, "fences that do not match the current claim are lease lost", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		recs := f.steps(root, at(time.Second), activitySpec(root, 1, "a"), activitySpec(root, 2, "b"), activitySpec(root, 3, "c"))
		a := f.claimID(at(time.Second), recs[0].ID)
		b := f.claimID(at(time.Second), recs[1].ID)
		f.noErr(f.s.ReleaseTask(f.ctx, b.Fence(), at(2*time.Second), true), "ReleaseTask")
		c := f.claimID(at(time.Second), recs[2].ID)
		f.complete(c, `1`, at(2*time.Second))
		before := f.snapshot(root.ExecutionID)
		for name, fence := range map[string]domain.Fence{
			"another token":        {TaskID: a.ID, WorkerID: a.WorkerID, Token: domain.NewID()},
			"another worker":       {TaskID: a.ID, WorkerID: workerB, Token: a.ClaimToken},
			"an unknown task":      {TaskID: domain.NewID(), WorkerID: a.WorkerID, Token: a.ClaimToken},
			"a released task":      b.Fence(),
			"a completed task":     c.Fence(),
			"another task's claim": {TaskID: recs[1].ID, WorkerID: a.WorkerID, Token: a.ClaimToken},
		} {
			err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: fence, Result: js(`"x"`), Now: at(time.Minute)})
			f.isErr(err, domain.ErrLeaseLost, "CompleteTask with "+name)
			err = f.s.RetryTask(f.ctx, ports.RetryParams{Fence: fence, Error: storeError("x"), RunAt: at(time.Minute), Now: at(time.Minute)})
			f.isErr(err, domain.ErrLeaseLost, "RetryTask with "+name)
		}
		f.unchanged(before, "mismatched fences", root.ExecutionID)
	})

	h.run(t, "renew extends a held lease and reports the states", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		rec := f.steps(root, at(time.Second), activitySpec(root, 1, "job"))[0]
		child := f.claim(ports.ClaimParams{Functions: []string{"job"}, Now: at(time.Second), Lease: time.Minute})[0]
		now := at(30 * time.Second)
		st, err := f.s.RenewLeases(f.ctx, []domain.Fence{child.Fence(), root.Fence()}, now, 5*time.Minute)
		f.noErr(err, "RenewLeases")
		if len(st) != 2 {
			t.Fatalf("RenewLeases returned %d statuses; want 2", len(st))
		}
		for i, s := range st {
			f.eq(fmt.Sprintf("status %d", i), fmt.Sprint(s.Held, " ", s.TaskState, " ", s.ExecState), "true running running")
			f.eqTime(fmt.Sprintf("status %d lease", i), s.LeaseExpiresAt, now.Add(5*time.Minute))
		}
		f.eqTimePtr("stored lease", f.task(rec.ID).LeaseExpiresAt, ptrTo(now.Add(5*time.Minute)))
		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: at(2 * time.Minute)})
		f.eq("claimed after the old expiry", len(got), 0)
	})

	h.run(t, "renew reports lost, finished, cancelled and unknown tasks as not held", func(t *testing.T, f *fixture) {
		ll := f.newLostLease()
		_, root := f.start(execOpts{})
		done := f.runChild(root, 1, "done", at(time.Second))
		f.complete(done, `1`, at(2*time.Second))
		cancelled, croot := f.start(execOpts{})
		_, _, err := f.s.CancelExecution(f.ctx, cancelled.ID, at(time.Second))
		f.noErr(err, "CancelExecution")

		fences := []domain.Fence{
			ll.old.Fence(), root.Fence(), done.Fence(), croot.Fence(),
			{TaskID: domain.NewID(), WorkerID: workerA, Token: "t"},
		}
		st, err := f.s.RenewLeases(f.ctx, fences, at(3*time.Minute), time.Minute)
		f.noErr(err, "RenewLeases")
		want := []string{
			"false running running",
			"true running running",
			"false completed running",
			"false cancelled cancelled",
			"false  ",
		}
		if len(st) != len(want) {
			t.Fatalf("RenewLeases returned %d statuses; want %d", len(st), len(want))
		}
		for i, s := range st {
			f.eq(fmt.Sprintf("status %d (held task exec)", i), fmt.Sprint(s.Held, " ", s.TaskState, " ", s.ExecState), want[i])
		}
		f.eqTimePtr("the new owner's lease", f.task(ll.fresh.ID).LeaseExpiresAt, ll.fresh.LeaseExpiresAt)
	})

	h.run(t, "a batch completion applies fresh items and reports stale ones", func(t *testing.T, f *fixture) {
		ll := f.newLostLease()
		_, root := f.start(execOpts{})
		recs := f.steps(root, at(time.Second), activitySpec(root, 1, "x"), activitySpec(root, 2, "y"))
		x := f.claimID(at(time.Second), recs[0].ID)
		y := f.claimID(at(time.Second), recs[1].ID)
		res, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{
			{Fence: x.Fence(), Result: js(`"x"`), Now: at(time.Minute)},
			{Fence: ll.old.Fence(), Result: js(`"stale"`), Now: at(time.Minute)},
			{Fence: y.Fence(), Result: js(`"y"`), Now: at(time.Minute), Ops: []domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 2}}},
		})
		f.noErr(err, "CompleteTasks")
		if len(res) != 3 {
			t.Fatalf("CompleteTasks returned %d item results; want 3", len(res))
		}
		f.noErr(res[0].Err, "item 0")
		f.isErr(res[1].Err, domain.ErrLeaseLost, "stale item")
		f.noErr(res[2].Err, "item 2")
		f.eqRaw("x result", f.task(x.ID).Result, js(`"x"`))
		f.eqRaw("y result", f.task(y.ID).Result, js(`"y"`))
		f.eq("counter", f.data(root.ExecutionID).Counters["n"], 2.0)
		f.state(ll.fresh.ID, domain.TaskRunning)
		f.eqRaw("stale result", f.task(ll.fresh.ID).Result, nil)
	})
}
