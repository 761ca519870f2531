package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// repairRun is an execution with three top-level steps: 1 an activity
// completed with "one" (adding 1 to counter "n" when created), 2 a signal
// wait that received message #1 of "go", 3 an activity that completed
// ("three") or failed ("bug", dead-lettered); then the root completes or
// fails (dead-lettered).
type repairRun struct {
	exec  domain.Execution
	root  domain.Task
	steps [3]domain.Task
}

func (f *fixture) repairRun(fail bool, o execOpts) repairRun {
	f.t.Helper()
	e, root := f.start(o)
	fn := root.StepName
	spec1 := activitySpec(root, 1, fn+"-one")
	_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{spec1},
		[]domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}, at(time.Second))
	f.noErr(err, "CreateSteps(step 1)")
	one := f.claimID(at(time.Second), spec1.ID)
	f.complete(one, `"one"`, at(2*time.Second))
	f.send(e.ID, "go", `"msg-1"`, at(3*time.Second))
	f.send(e.ID, "go", `"msg-2"`, at(3*time.Second))
	f.steps(root, at(4*time.Second), signalSpec(root, 2, "go"))
	three := f.runChild(root, 3, fn+"-three", at(5*time.Second))
	if fail {
		f.fail(three, "bug", at(6*time.Second))
		f.fail(root, "bug", at(7*time.Second))
	} else {
		f.complete(three, `"three"`, at(6*time.Second))
		f.complete(root, `"done"`, at(7*time.Second))
	}
	r := repairRun{exec: f.exec(e.ID), root: f.task(root.ID)}
	for i := range r.steps {
		r.steps[i] = f.task(domain.StepID(e.ID, root.ID, i+1))
	}
	return r
}

func (f *fixture) fork(p ports.ForkParams) domain.Execution {
	f.t.Helper()
	e, err := f.s.ForkExecution(f.ctx, p)
	f.noErr(err, "ForkExecution")
	return e
}

func testRepair(t *testing.T, h storeSuite) {
	h.run(t, "a fork from step 3 copies steps 1 and 2 with their results and runs from step 3", func(t *testing.T, f *fixture) {
		limit := time.Hour
		r := f.repairRun(false, execOpts{Input: `{"v": 1}`, Tags: []string{"t1"}, Priority: 3, Queue: "q1", Deadline: ptrTo(epoch.Add(limit))})
		before := f.views(r.exec.ID)
		newID, newRoot := domain.NewID(), domain.NewID()
		now := at(time.Minute)
		got := f.fork(ports.ForkParams{SourceID: r.exec.ID, FromStep: 3, NewID: newID, NewRootID: newRoot, Now: now})
		if after := f.views(r.exec.ID); after != before {
			t.Errorf("ForkExecution changed the source:\nbefore %s\nafter  %s", before, after)
		}
		f.eq("stored", mustJSON(got), mustJSON(f.exec(newID)))
		f.eq("state", got.State, domain.ExecutionPending)
		f.eq("forked from", got.ForkedFrom, r.exec.ID)
		f.eq("root task", got.RootTaskID, newRoot)
		f.eq("routing", []any{got.RootFunction, got.Queue, got.Priority, got.Tags}, []any{r.exec.RootFunction, "q1", 3, []string{"t1"}})
		f.eqRaw("input (the source's)", got.Input, js(`{"v": 1}`))
		f.eqTime("created_at", got.CreatedAt, now)
		f.eqTimePtr("deadline (the limit again, from the fork)", got.Deadline, ptrTo(now.Add(limit)))
		if got.Result != nil || got.Error != nil || got.FinishedAt != nil || got.StartedAt != nil {
			t.Errorf("fork has an outcome or start: %+v", got)
		}

		tasks := f.tasksOf(newID)
		f.eq("tasks of the fork", len(tasks), 3)
		root := f.task(newRoot)
		f.eq("root state", root.State, domain.TaskPending)
		f.eq("root attempt/generation", []int{root.Attempt, root.Generation}, []int{0, 0})
		f.eq("root policy", mustJSON(root.RetryPolicy), mustJSON(storePolicy))
		f.eqTimePtr("root started_at (it has run: not a first claim)", root.StartedAt, r.root.StartedAt)
		f.eqTimePtr("root deadline", root.Deadline, ptrTo(now.Add(limit)))
		for pos, want := range map[int]string{1: `"one"`, 2: `"msg-1"`} {
			c := f.task(domain.StepID(newID, newRoot, pos))
			src := r.steps[pos-1]
			f.eq("copy state", c.State, domain.TaskCompleted)
			f.eqRaw("copy result", c.Result, js(want))
			f.eq("copy name/kind/parent", []any{c.StepName, c.Kind, c.ParentTaskID, c.Position, c.ExecutionID},
				[]any{src.StepName, src.Kind, newRoot, pos, newID})
			f.eqTimePtr("copy finished_at (history)", c.FinishedAt, src.FinishedAt)
		}
		if _, err := f.s.GetTask(f.ctx, domain.StepID(newID, newRoot, 3)); err == nil {
			t.Error("step 3 was copied; want it to run again")
		}
		f.eq("counters copied", f.data(newID).Counters["n"], 1.0)
		msgs := f.signals(newID)
		f.eq("messages", len(msgs), 2)
		f.eq("message 1 consumed by the copy of step 2", msgs[0].ConsumedBy, domain.StepID(newID, newRoot, 2))
		f.eq("message 2 unconsumed", msgs[1].ConsumedBy, "")

		claimed := f.claimed(ports.ClaimParams{Functions: []string{r.exec.RootFunction}, Queues: []string{"q1"}, Now: now})
		if len(claimed) != 1 || claimed[0].ID != newRoot || claimed[0].FirstClaim {
			t.Fatalf("claim after the fork = %+v; want the new root, not a first claim", claimed)
		}
		f.execState(newID, domain.ExecutionRunning)
	})

	h.run(t, "a fork from step 1 with a new input copies no step and its root has never run", func(t *testing.T, f *fixture) {
		r := f.repairRun(true, execOpts{Input: `1`})
		newID, newRoot := domain.NewID(), domain.NewID()
		got := f.fork(ports.ForkParams{SourceID: r.exec.ID, FromStep: 1, NewID: newID, NewRootID: newRoot, Input: js(`2`), Now: at(time.Minute)})
		f.eqRaw("input", got.Input, js(`2`))
		f.eqRaw("root input", f.task(newRoot).Input, js(`2`))
		f.eq("tasks", len(f.tasksOf(newID)), 1)
		f.eq("messages (all unconsumed)", []string{f.signals(newID)[0].ConsumedBy, f.signals(newID)[1].ConsumedBy}, []string{"", ""})
		f.eqTimePtr("deadline (none)", got.Deadline, nil)
		claimed := f.claimed(ports.ClaimParams{Functions: []string{r.exec.RootFunction}, Now: at(time.Minute)})
		if len(claimed) != 1 || !claimed[0].FirstClaim {
			t.Fatalf("claim = %+v; want the new root as a first claim", claimed)
		}
	})

	h.run(t, "a reset from step 3 of a failed run keeps steps 1 and 2 and drops step 3 and the dead letters", func(t *testing.T, f *fixture) {
		r := f.repairRun(true, execOpts{})
		f.eq("dead letters before", f.countDeadLetters(), int64(2))
		now := at(time.Minute)
		got, err := f.s.ResetExecution(f.ctx, ports.ResetParams{ID: r.exec.ID, FromStep: 3, Now: now})
		f.noErr(err, "ResetExecution")
		f.eq("stored", mustJSON(got), mustJSON(f.exec(r.exec.ID)))
		f.eq("state", got.State, domain.ExecutionPending)
		if got.Error != nil || got.FinishedAt != nil {
			t.Errorf("reset execution keeps its outcome: %+v", got)
		}
		f.eq("dead letters after", f.countDeadLetters(), int64(0))
		f.eq("kept step 1", mustJSON(f.task(r.steps[0].ID)), mustJSON(r.steps[0]))
		f.eq("kept step 2", mustJSON(f.task(r.steps[1].ID)), mustJSON(r.steps[1]))
		_, err = f.s.GetTask(f.ctx, r.steps[2].ID)
		f.isErr(err, domain.ErrNotFound, "GetTask(step 3 after the reset)")
		root := f.task(r.root.ID)
		f.eq("root", []any{root.State, root.Attempt, root.Generation, root.Error == nil, root.LastError == nil, root.FinishedAt == nil},
			[]any{domain.TaskPending, 0, r.root.Generation, true, true, true})
		f.eqTimePtr("root due", root.ScheduledFor, &now)
		f.eq("counters kept", f.data(r.exec.ID).Counters["n"], 1.0)
		f.eq("message 1 still consumed by step 2", f.signals(r.exec.ID)[0].ConsumedBy, r.steps[1].ID)
		claimed := f.claimed(ports.ClaimParams{Functions: []string{r.exec.RootFunction}, Now: now})
		if len(claimed) != 1 || claimed[0].ID != r.root.ID || claimed[0].FirstClaim || claimed[0].Attempt != 1 {
			t.Fatalf("claim after the reset = %+v; want the root, attempt 1, not a first claim", claimed)
		}
		f.execState(r.exec.ID, domain.ExecutionRunning)
	})

	h.run(t, "a reset from step 2 puts the message step 2 received back in the mailbox", func(t *testing.T, f *fixture) {
		r := f.repairRun(true, execOpts{})
		_, err := f.s.ResetExecution(f.ctx, ports.ResetParams{ID: r.exec.ID, FromStep: 2, Now: at(time.Minute)})
		f.noErr(err, "ResetExecution")
		msgs := f.signals(r.exec.ID)
		f.eq("messages", len(msgs), 2)
		f.eq("both unconsumed", []string{msgs[0].ConsumedBy, msgs[1].ConsumedBy}, []string{"", ""})
		f.eq("tasks left", sortedTaskIDs(f.tasksOf(r.exec.ID)), sortedTaskIDs([]domain.Task{r.root, r.steps[0]}))
		root := f.claimOne(at(time.Minute), r.exec.RootFunction)
		wait := f.steps(root, at(time.Minute), signalSpec(root, 2, "go"))[0]
		f.eqRaw("the re-run wait receives message 1 again", wait.Result, js(`"msg-1"`))
	})

	h.run(t, "a reset of a timed-out run gets its time limit again from the reset", func(t *testing.T, f *fixture) {
		e, _ := f.start(execOpts{Deadline: ptrTo(at(10 * time.Second))})
		_, changed, err := f.s.TimeoutExecution(f.ctx, e.ID, at(11*time.Second))
		f.noErr(err, "TimeoutExecution")
		f.eq("timed out", changed, true)
		now := at(time.Hour)
		got, err := f.s.ResetExecution(f.ctx, ports.ResetParams{ID: e.ID, FromStep: 1, Now: now})
		f.noErr(err, "ResetExecution")
		f.eqTimePtr("deadline", got.Deadline, ptrTo(now.Add(10*time.Second)))
		f.eqTimePtr("root deadline", f.task(e.RootTaskID).Deadline, ptrTo(now.Add(10*time.Second)))
		f.eq("state", got.State, domain.ExecutionPending)
	})

	h.run(t, "a reset of a completed or running execution names its state and changes nothing", func(t *testing.T, f *fixture) {
		done := f.repairRun(false, execOpts{})
		live, _ := f.start(execOpts{})
		before := f.snapshot(done.exec.ID, live.ID)
		_, err := f.s.ResetExecution(f.ctx, ports.ResetParams{ID: done.exec.ID, FromStep: 1, Now: at(time.Minute)})
		f.errNames(err, domain.ErrInvalidTransition, "is completed; only a failed, timed_out or cancelled execution can be reset", "reset of a completed run")
		_, err = f.s.ResetExecution(f.ctx, ports.ResetParams{ID: live.ID, FromStep: 1, Now: at(time.Minute)})
		f.errNames(err, domain.ErrInvalidTransition, "is running", "reset of a running run")
		f.unchanged(before, "a rejected reset", done.exec.ID, live.ID)
	})

	h.run(t, "bad steps, unknown ids and taken ids are rejected and change nothing", func(t *testing.T, f *fixture) {
		r := f.repairRun(true, execOpts{})
		before := f.snapshot(r.exec.ID)
		fork := func(n int) error {
			_, err := f.s.ForkExecution(f.ctx, ports.ForkParams{SourceID: r.exec.ID, FromStep: n, NewID: domain.NewID(), NewRootID: domain.NewID(), Now: at(time.Minute)})
			return err
		}
		reset := func(n int) error {
			_, err := f.s.ResetExecution(f.ctx, ports.ResetParams{ID: r.exec.ID, FromStep: n, Now: at(time.Minute)})
			return err
		}
		for _, op := range []struct {
			name string
			do   func(int) error
		}{{"fork", fork}, {"reset", reset}} {
			f.errNames(op.do(0), domain.ErrInvalidArgument, "from step 0: steps are numbered from 1", op.name+" from step 0")
			f.errNames(op.do(-1), domain.ErrInvalidArgument, "from step -1", op.name+" from step -1")
			f.errNames(op.do(5), domain.ErrInvalidArgument, "has 3 recorded steps; choose a step from 1 to 4", op.name+" from step 5")
			// Step 3 failed: only a completed step's result can be kept.
			f.errNames(op.do(4), domain.ErrInvalidArgument, "step 3 ("+r.steps[2].StepName+") is failed", op.name+" from step 4")
		}
		_, err := f.s.ForkExecution(f.ctx, ports.ForkParams{SourceID: "no-such-run", FromStep: 1, NewID: domain.NewID(), NewRootID: domain.NewID(), Now: at(time.Minute)})
		f.errNames(err, domain.ErrNotFound, "no-such-run", "fork of an unknown execution")
		_, err = f.s.ResetExecution(f.ctx, ports.ResetParams{ID: "no-such-run", FromStep: 1, Now: at(time.Minute)})
		f.errNames(err, domain.ErrNotFound, "no-such-run", "reset of an unknown execution")
		_, err = f.s.ForkExecution(f.ctx, ports.ForkParams{SourceID: r.exec.ID, FromStep: 1, NewID: r.exec.ID, NewRootID: domain.NewID(), Now: at(time.Minute)})
		f.isErr(err, domain.ErrConflict, "fork into the source's own id")
		_, err = f.s.ForkExecution(f.ctx, ports.ForkParams{SourceID: r.exec.ID, FromStep: 1, NewID: domain.NewID(), NewRootID: r.root.ID, Now: at(time.Minute)})
		f.isErr(err, domain.ErrConflict, "fork with a taken root id")
		_, err = f.s.ForkExecution(f.ctx, ports.ForkParams{SourceID: r.exec.ID, FromStep: 1, Now: at(time.Minute)})
		f.isErr(err, domain.ErrInvalidArgument, "fork without new ids")
		f.unchanged(before, "rejected repairs", r.exec.ID)
		byState, err := f.s.CountExecutionsByState(f.ctx)
		f.noErr(err, "CountExecutionsByState")
		f.eq("executions", byState, map[domain.ExecutionState]int64{domain.ExecutionFailed: 1})
	})
}
