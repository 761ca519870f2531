package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// richError is a stored error using every field.
func richError() *domain.TaskError {
	return &domain.TaskError{
		Type: "*app.ChargeError", Code: "card_declined", Codes: []string{"card_declined", "payment"},
		Message: "card declined: insufficient funds", Retryable: true,
		Details: js(`{"amount":12.5,"currency":"EUR"}`), Stack: "goroutine 1 [running]:\nmain.main()",
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func testFinishingTasks(t *testing.T, h storeSuite) {
	h.run(t, "complete stores the result and clears the lease", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		child := f.runChild(root, 1, "job", at(time.Second))
		now := at(time.Minute)
		f.complete(child, `{"ok": true}`, now)
		got := f.task(child.ID)
		f.eq("state", got.State, domain.TaskCompleted)
		f.eqRaw("result", got.Result, js(`{"ok": true}`))
		f.eqTimePtr("finished_at", got.FinishedAt, &now)
		f.eqTimePtr("lease_expires_at", got.LeaseExpiresAt, nil)
		f.eq("claim token", got.ClaimToken, "")
		f.eq("attempt", got.Attempt, 1)
		f.execState(e.ID, domain.ExecutionRunning)
		f.state(root.ID, domain.TaskRunning)
	})

	h.run(t, "completing the root completes the execution and cancels its other live tasks", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		now := at(time.Minute)
		f.complete(tr.root, `{"total": 3}`, now)
		e := f.exec(tr.exec.ID)
		f.eq("execution state", e.State, domain.ExecutionCompleted)
		f.eqRaw("execution result", e.Result, js(`{"total": 3}`))
		f.eqTimePtr("execution finished_at", e.FinishedAt, &now)
		f.eq("execution error", e.Error == nil, true)
		f.state(tr.root.ID, domain.TaskCompleted)
		f.wantAllCancelled(tr, now, tr.root.ID)
	})

	h.run(t, "completing the root cancels a live grandchild whose step has ended", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		step := f.runChild(root, 1, "step", at(time.Second))
		grandchild := f.runChild(step, 1, "grandchild", at(2*time.Second))
		f.complete(step, `"step"`, at(3*time.Second))
		now := at(time.Minute)
		f.complete(root, `"root"`, now)
		f.execState(e.ID, domain.ExecutionCompleted)
		f.state(step.ID, domain.TaskCompleted)
		got := f.task(grandchild.ID)
		f.eq("grandchild state", got.State, domain.TaskCancelled)
		f.eqTimePtr("grandchild finished_at", got.FinishedAt, &now)
		f.eq("grandchild claim token", got.ClaimToken, "")
	})

	h.run(t, "completing a root whose steps all ended leaves them as they were", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		done := f.runChild(root, 1, "done", at(time.Second))
		failed := f.runChild(root, 2, "failed", at(time.Second))
		f.complete(done, `"done"`, at(2*time.Second))
		f.fail(failed, "bad", at(2*time.Second))
		doneBefore, failedBefore := f.task(done.ID), f.task(failed.ID)
		f.complete(root, `"root"`, at(time.Minute))
		f.execState(e.ID, domain.ExecutionCompleted)
		for _, before := range []domain.Task{doneBefore, failedBefore} {
			got := f.task(before.ID)
			f.eq(before.StepName+" state", got.State, before.State)
			f.eqTimePtr(before.StepName+" finished_at", got.FinishedAt, before.FinishedAt)
			f.eqTime(before.StepName+" updated_at", got.UpdatedAt, before.UpdatedAt)
		}
	})

	h.run(t, "one batch completes a step-less root and a root with live steps: only the latter's tasks are cancelled", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		bare, bareRoot := f.start(execOpts{})
		now := at(time.Minute)
		res, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{
			{Fence: bareRoot.Fence(), Result: js(`1`), Now: now},
			{Fence: tr.root.Fence(), Result: js(`2`), Now: now},
		})
		f.noErr(err, "CompleteTasks")
		f.eq("results", len(res), 2)
		f.noErr(res[0].Err, "step-less root")
		f.noErr(res[1].Err, "root with steps")
		for _, id := range []string{bare.ID, tr.exec.ID} {
			e := f.exec(id)
			f.eq("execution state", e.State, domain.ExecutionCompleted)
			f.eqTimePtr("execution finished_at", e.FinishedAt, &now)
		}
		f.eqRaw("step-less execution result", f.exec(bare.ID).Result, js(`1`))
		f.state(bareRoot.ID, domain.TaskCompleted)
		f.wantAllCancelled(tr, now, tr.root.ID)
	})

	h.run(t, "fail stores the error and leaves the execution running", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		child := f.runChild(root, 1, "job", at(time.Second))
		now := at(time.Minute)
		f.noErr(f.s.FailTask(f.ctx, ports.FailParams{Fence: child.Fence(), Error: richError(), Reason: "gave up", Now: now}), "FailTask")
		got := f.task(child.ID)
		f.eq("state", got.State, domain.TaskFailed)
		f.eq("error", mustJSON(got.Error), mustJSON(richError()))
		f.eqTimePtr("finished_at", got.FinishedAt, &now)
		f.eqTimePtr("lease_expires_at", got.LeaseExpiresAt, nil)
		f.eq("claim token", got.ClaimToken, "")
		f.execState(e.ID, domain.ExecutionRunning)
		f.state(root.ID, domain.TaskRunning)
	})

	h.run(t, "failing the root fails the execution and cancels its other live tasks", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		now := at(time.Minute)
		f.noErr(f.s.FailTask(f.ctx, ports.FailParams{Fence: tr.root.Fence(), Error: richError(), Reason: "gave up", Now: now}), "FailTask")
		e := f.exec(tr.exec.ID)
		f.eq("execution state", e.State, domain.ExecutionFailed)
		f.eq("execution error", mustJSON(e.Error), mustJSON(richError()))
		f.isErr(e.Error, domain.NewError("payment", ""), "execution error codes")
		f.eqTimePtr("execution finished_at", e.FinishedAt, &now)
		f.eqRaw("execution result", e.Result, nil)
		f.state(tr.root.ID, domain.TaskFailed)
		f.wantAllCancelled(tr, now, tr.root.ID)
		f.eq("dead letters (the root only)", f.countDeadLetters(), int64(1))
	})

	h.run(t, "retry makes the task pending at RunAt with generation +1", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		child := f.runChild(root, 1, "job", at(time.Second))
		runAt := at(time.Minute)
		f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: child.Fence(), Error: richError(), RunAt: runAt, Now: at(2 * time.Second)}), "RetryTask")
		got := f.task(child.ID)
		f.eq("state", got.State, domain.TaskPending)
		f.eqTimePtr("scheduled_for", got.ScheduledFor, &runAt)
		f.eq("lease fields", got.WorkerID+got.ClaimToken, "")
		f.eqTimePtr("lease_expires_at", got.LeaseExpiresAt, nil)
		f.eq("generation", got.Generation, child.Generation+1)
		f.eq("attempt", got.Attempt, 1)
		f.eq("last error", mustJSON(got.LastError), mustJSON(richError()))
		f.eq("error", got.Error == nil, true)
		f.eq("dead letters", f.countDeadLetters(), int64(0))

		f.eq("claimed 1 µs before RunAt", len(f.claimFns(runAt.Add(-time.Microsecond), "job")), 0)
		again := f.claimOne(runAt, "job")
		f.eq("second attempt", again.Attempt, 2)
		f.eq("second generation", again.Generation, 1)
	})

	for _, restore := range []bool{true, false} {
		name := "release makes the task due now and keeps the attempt"
		want := 1
		if restore {
			name, want = "release makes the task due now and restores the attempt", 0
		}
		h.run(t, name, func(t *testing.T, f *fixture) {
			_, root := f.start(execOpts{})
			child := f.runChild(root, 1, "job", at(time.Second))
			now := at(5 * time.Second)
			f.noErr(f.s.ReleaseTask(f.ctx, child.Fence(), now, restore), "ReleaseTask")
			got := f.task(child.ID)
			f.eq("state", got.State, domain.TaskPending)
			f.eq("attempt", got.Attempt, want)
			f.eq("generation", got.Generation, child.Generation)
			f.eq("lease fields", got.WorkerID+got.ClaimToken, "")
			f.eqTimePtr("lease_expires_at", got.LeaseExpiresAt, nil)
			f.eq("due at release", got.Due(now), true)
			again := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: now})
			f.eq("claimed again at once", taskIDs(again), []string{child.ID})
			if len(again) == 1 {
				f.eq("attempt of the next claim", again[0].Attempt, want+1)
			}
		})
	}

	h.run(t, "data ops commit with a completion, in order", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		child := f.runChild(root, 1, "job", at(time.Second))
		ops := []domain.DataOp{
			{Kind: domain.OpAddCounter, Key: "n", Number: 2},
			{Kind: domain.OpAddCounter, Key: "n", Number: 3.5},
			{Kind: domain.OpInitCounter, Key: "n", Number: 100},
			{Kind: domain.OpInitCounter, Key: "m", Number: 7},
			{Kind: domain.OpSetState, Key: "phase", Value: js(`"a"`)},
			{Kind: domain.OpSetState, Key: "phase", Value: js(`"b"`)},
			{Kind: domain.OpInitState, Key: "phase", Value: js(`"c"`)},
			{Kind: domain.OpInitState, Key: "owner", Value: js(`{"id": 1,  "name":"x"}`)},
			{Kind: domain.OpSetState, Key: "falsey", Value: js(`false`)},
		}
		f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: child.Fence(), Result: js(`1`), Ops: ops, Now: at(time.Minute)}), "CompleteTask")
		d := f.data(e.ID)
		f.eq("counters", d.Counters, map[string]float64{"n": 5.5, "m": 7})
		f.eq("state keys", len(d.State), 3)
		f.eqRaw("phase", d.State["phase"], js(`"b"`))
		f.eqRaw("owner", d.State["owner"], js(`{"id": 1,  "name":"x"}`))
		f.eqRaw("falsey", d.State["falsey"], js(`false`))
	})

	h.run(t, "retry and fail commit no data ops", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		recs := f.steps(root, at(time.Second), activitySpec(root, 1, "r"), activitySpec(root, 2, "x"))
		r := f.claimID(at(time.Second), recs[0].ID)
		x := f.claimID(at(time.Second), recs[1].ID)
		f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: r.Fence(), Error: storeError("e"), RunAt: at(time.Hour), Now: at(time.Minute)}), "RetryTask")
		f.fail(x, "fatal", at(time.Minute))
		d := f.data(e.ID)
		f.eq("data after retry and fail", len(d.Counters)+len(d.State), 0)
	})
}
