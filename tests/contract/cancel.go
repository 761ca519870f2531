package contract

import (
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// taskTree is a running execution with a child in each interesting state.
type taskTree struct {
	exec                                        domain.Execution
	root, running, done, waiting, sleep, signal domain.Task
}

// newTree starts an execution (root claimed at epoch) whose root made five
// calls at epoch+1s: a running child, a completed child, a pending child, a
// pending sleep (wakes at epoch+1h) and a pending signal wait ("go").
func (f *fixture) newTree(o execOpts) taskTree {
	f.t.Helper()
	e, root := f.start(o)
	recs := f.steps(root, at(time.Second),
		activitySpec(root, 1, "tree-running"), activitySpec(root, 2, "tree-done"), activitySpec(root, 3, "tree-waiting"),
		sleepSpec(root, 4, at(time.Hour)), signalSpec(root, 5, "go"))
	running := f.claimID(at(2*time.Second), recs[0].ID)
	done := f.claimID(at(2*time.Second), recs[1].ID)
	f.complete(done, `"done"`, at(3*time.Second))
	return taskTree{exec: f.exec(e.ID), root: f.task(root.ID), running: running, done: f.task(done.ID),
		waiting: f.task(recs[2].ID), sleep: f.task(recs[3].ID), signal: f.task(recs[4].ID)}
}

// liveOnes returns the taskTree's tasks that are live before it ends.
func (tr taskTree) liveOnes() []domain.Task {
	return []domain.Task{tr.root, tr.running, tr.waiting, tr.sleep, tr.signal}
}

// wantAllCancelled checks every live task of the taskTree became cancelled at
// now with its lease cleared, and the completed child stayed completed.
func (f *fixture) wantAllCancelled(tr taskTree, now time.Time, except ...string) {
	f.t.Helper()
	for _, old := range tr.liveOnes() {
		if slices.Contains(except, old.ID) {
			continue
		}
		got := f.task(old.ID)
		f.eq(old.StepName+" state", got.State, domain.TaskCancelled)
		f.eqTimePtr(old.StepName+" finished_at", got.FinishedAt, &now)
		f.eqTimePtr(old.StepName+" lease_expires_at", got.LeaseExpiresAt, nil)
		f.eq(old.StepName+" claim token", got.ClaimToken, "")
	}
	done := f.task(tr.done.ID)
	f.eq("completed child state", done.State, domain.TaskCompleted)
	f.eqRaw("completed child result", done.Result, js(`"done"`))
}

func testCancelAndTimeout(t *testing.T, h storeSuite) {
	h.run(t, "cancel moves a pending execution and its root task to cancelled", func(t *testing.T, f *fixture) {
		e, root := f.create(execOpts{})
		now := at(time.Minute)
		got, changed, err := f.s.CancelExecution(f.ctx, e.ID, now)
		f.noErr(err, "CancelExecution")
		f.eq("changed", changed, true)
		stored := f.exec(e.ID)
		for _, x := range []domain.Execution{got, stored} {
			f.eq("state", x.State, domain.ExecutionCancelled)
			f.eqTimePtr("finished_at", x.FinishedAt, &now)
			if x.Error == nil || x.Error.Code != "cancelled" || x.Error.Message != "execution cancelled" {
				t.Errorf("error = %+v; want code cancelled, message \"execution cancelled\"", x.Error)
			}
			f.isErr(x.Error, domain.ErrCancelled, "stored cancel error")
		}
		f.state(root.ID, domain.TaskCancelled)
		f.eqTimePtr("root finished_at", f.task(root.ID).FinishedAt, &now)
	})

	h.run(t, "cancel cancels every live task of the execution at once", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		now := at(time.Minute)
		_, changed, err := f.s.CancelExecution(f.ctx, tr.exec.ID, now)
		f.noErr(err, "CancelExecution")
		f.eq("changed", changed, true)
		f.wantAllCancelled(tr, now)
		f.eq("dead letters", f.countDeadLetters(), int64(0))
	})

	h.run(t, "a completion after cancel is lease lost and the execution stays cancelled", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		_, _, err := f.s.CancelExecution(f.ctx, tr.exec.ID, at(time.Minute))
		f.noErr(err, "CancelExecution")
		before := f.snapshot(tr.exec.ID)
		for _, task := range []domain.Task{tr.root, tr.running} {
			err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: task.Fence(), Result: js(`"late"`), Now: at(2 * time.Minute)})
			f.isErr(err, domain.ErrLeaseLost, "late CompleteTask of "+task.StepName)
			err = f.s.FailTask(f.ctx, ports.FailParams{Fence: task.Fence(), Error: storeError("late"), Now: at(2 * time.Minute)})
			f.isErr(err, domain.ErrLeaseLost, "late FailTask of "+task.StepName)
		}
		f.unchanged(before, "late finishing writes", tr.exec.ID)
		f.execState(tr.exec.ID, domain.ExecutionCancelled)
	})

	h.run(t, "cancel of an unknown execution is not found", func(t *testing.T, f *fixture) {
		id := domain.NewID()
		_, _, err := f.s.CancelExecution(f.ctx, id, epoch)
		f.errNames(err, domain.ErrNotFound, id, "CancelExecution")
	})

	h.run(t, "timeout is a no-op before the deadline and without one", func(t *testing.T, f *fixture) {
		deadline := at(time.Minute)
		soon, _ := f.start(execOpts{Deadline: &deadline})
		never, _ := f.start(execOpts{})
		before := f.snapshot(soon.ID, never.ID)
		for _, id := range []string{soon.ID, never.ID} {
			got, changed, err := f.s.TimeoutExecution(f.ctx, id, deadline.Add(-time.Microsecond))
			f.noErr(err, "TimeoutExecution")
			f.eq("changed", changed, false)
			f.eq("returned state", got.State, domain.ExecutionRunning)
		}
		taskIDs, err := f.s.ExpireOverdue(f.ctx, deadline.Add(-time.Microsecond), 10)
		f.noErr(err, "ExpireOverdue")
		f.eq("expired", len(taskIDs), 0)
		f.unchanged(before, "early timeouts", soon.ID, never.ID)
	})

	h.run(t, "timeout at the deadline times the execution out and cancels its tasks", func(t *testing.T, f *fixture) {
		deadline := at(time.Minute)
		tr := f.newTree(execOpts{Deadline: &deadline})
		f.eqTimePtr("child deadline (from the parent)", tr.running.Deadline, &deadline)
		got, changed, err := f.s.TimeoutExecution(f.ctx, tr.exec.ID, deadline)
		f.noErr(err, "TimeoutExecution")
		f.eq("changed", changed, true)
		for _, x := range []domain.Execution{got, f.exec(tr.exec.ID)} {
			f.eq("state", x.State, domain.ExecutionTimedOut)
			f.eqTimePtr("finished_at", x.FinishedAt, &deadline)
			if x.Error == nil || x.Error.Code != "timed_out" {
				t.Fatalf("error = %+v; want code timed_out", x.Error)
			}
			f.isErr(x.Error, domain.ErrTimedOut, "stored timeout error")
			f.isErr(x.Error, domain.ErrDeadline, "stored timeout error")
		}
		f.wantAllCancelled(tr, deadline)
		f.eq("dead letters", f.countDeadLetters(), int64(0))
	})

	h.run(t, "timeout of an unknown execution is not found", func(t *testing.T, f *fixture) {
		id := domain.NewID()
		_, _, err := f.s.TimeoutExecution(f.ctx, id, epoch)
		f.errNames(err, domain.ErrNotFound, id, "TimeoutExecution")
	})

	h.run(t, "expire overdue times out live executions past their deadline up to the limit", func(t *testing.T, f *fixture) {
		var overdue []string
		for i := 1; i <= 3; i++ {
			e, _ := f.create(execOpts{Deadline: ptrTo(at(time.Duration(i) * time.Minute))})
			overdue = append(overdue, e.ID)
		}
		running, _ := f.start(execOpts{Deadline: ptrTo(at(4 * time.Minute))})
		overdue = append(overdue, running.ID)
		later, _ := f.create(execOpts{Deadline: ptrTo(at(time.Hour))})
		never, _ := f.create(execOpts{})
		finished, froot := f.start(execOpts{Deadline: ptrTo(at(time.Minute))})
		f.complete(froot, `1`, at(time.Second))

		now := at(10 * time.Minute)
		first, err := f.s.ExpireOverdue(f.ctx, now, 3)
		f.noErr(err, "ExpireOverdue")
		f.eq("first sweep size", len(first), 3)
		second, err := f.s.ExpireOverdue(f.ctx, now, 3)
		f.noErr(err, "ExpireOverdue")
		f.eq("second sweep size", len(second), 1)
		third, err := f.s.ExpireOverdue(f.ctx, now, 3)
		f.noErr(err, "ExpireOverdue")
		f.eq("third sweep size", len(third), 0)
		swept := append(first, second...)
		slices.Sort(swept)
		slices.Sort(overdue)
		f.eq("swept", swept, overdue)
		for _, id := range overdue {
			e := f.exec(id)
			f.eq("swept state", e.State, domain.ExecutionTimedOut)
			f.isErr(e.Error, domain.ErrTimedOut, "swept error")
			f.state(e.RootTaskID, domain.TaskCancelled)
		}
		f.execState(later.ID, domain.ExecutionPending)
		f.execState(never.ID, domain.ExecutionPending)
		f.execState(finished.ID, domain.ExecutionCompleted)
	})

	for _, end := range []struct {
		name  string
		state domain.ExecutionState
		end   func(f *fixture, tr taskTree)
	}{
		{"completed", domain.ExecutionCompleted, func(f *fixture, tr taskTree) { f.complete(tr.root, `"ok"`, at(time.Minute)) }},
		{"failed", domain.ExecutionFailed, func(f *fixture, tr taskTree) { f.fail(tr.root, "fatal", at(time.Minute)) }},
		{"cancelled", domain.ExecutionCancelled, func(f *fixture, tr taskTree) {
			_, _, err := f.s.CancelExecution(f.ctx, tr.exec.ID, at(time.Minute))
			f.noErr(err, "CancelExecution")
		}},
		{"timed out", domain.ExecutionTimedOut, func(f *fixture, tr taskTree) {
			_, _, err := f.s.TimeoutExecution(f.ctx, tr.exec.ID, at(time.Minute))
			f.noErr(err, "TimeoutExecution")
		}},
	} {
		h.run(t, "a "+end.name+" execution is never overwritten", func(t *testing.T, f *fixture) {
			tr := f.newTree(execOpts{Deadline: ptrTo(at(time.Minute))})
			end.end(f, tr)
			f.execState(tr.exec.ID, end.state)
			before := f.snapshot(tr.exec.ID)
			now := at(time.Hour)
			got, changed, err := f.s.CancelExecution(f.ctx, tr.exec.ID, now)
			f.noErr(err, "CancelExecution")
			f.eq("cancel changed", changed, false)
			f.eq("cancel returned state", got.State, end.state)
			got, changed, err = f.s.TimeoutExecution(f.ctx, tr.exec.ID, now)
			f.noErr(err, "TimeoutExecution")
			f.eq("timeout changed", changed, false)
			f.eq("timeout returned state", got.State, end.state)
			swept, err := f.s.ExpireOverdue(f.ctx, now, 10)
			f.noErr(err, "ExpireOverdue")
			f.eq("swept", len(swept), 0)
			for _, task := range tr.liveOnes() {
				err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: task.Fence(), Result: js(`"late"`), Now: now})
				if task.State == domain.TaskRunning {
					f.isErr(err, domain.ErrLeaseLost, "CompleteTask of "+task.StepName+" after the end")
				}
			}
			f.unchanged(before, "writes after the end", tr.exec.ID)
		})
	}

	h.run(t, "ending an execution cancels its live tasks in the same write", func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name string
			end  func(f *fixture, tr taskTree)
		}{
			{"root completion", func(f *fixture, tr taskTree) { f.complete(tr.root, `"ok"`, at(time.Minute)) }},
			{"root failure", func(f *fixture, tr taskTree) { f.fail(tr.root, "fatal", at(time.Minute)) }},
		} {
			tr := f.newTree(execOpts{})
			tc.end(f, tr)
			f.wantAllCancelled(tr, at(time.Minute), tr.root.ID)
		}
	})
}
