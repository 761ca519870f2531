package contract

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// everyMethod calls each Store and Inspector method (except Close) with
// plausible arguments and returns the errors by method name.
func everyMethod(f *fixture, e domain.Execution, root domain.Task) map[string]error {
	ctx, s, insp := f.ctx, f.s, f.insp
	exec2, root2 := buildExecution(execOpts{})
	fence := root.Fence()
	spec := activitySpec(root, 1, "x")
	now := at(time.Minute)
	errs := map[string]error{}
	call := func(name string, fn func() error) {
		defer func() {
			if p := recover(); p != nil {
				errs[name] = fmt.Errorf("panic: %v", p)
			}
		}()
		errs[name] = fn()
	}
	call("CreateExecutions", func() error {
		_, err := s.CreateExecutions(ctx, []ports.NewExecution{{Execution: exec2, Root: root2}})
		return err
	})
	call("GetExecution", func() error { _, err := s.GetExecution(ctx, e.ID); return err })
	call("ListExecutions", func() error { _, err := s.ListExecutions(ctx, ports.ExecutionFilter{}); return err })
	call("ListProgress", func() error { _, err := s.ListProgress(ctx, e.ID); return err })
	call("GetExecutionData", func() error { _, err := s.GetExecutionData(ctx, e.ID); return err })
	call("CancelExecution", func() error { _, _, err := s.CancelExecution(ctx, e.ID, now); return err })
	call("TimeoutExecution", func() error { _, _, err := s.TimeoutExecution(ctx, e.ID, now); return err })
	call("ExpireOverdue", func() error { _, err := s.ExpireOverdue(ctx, now, 10); return err })
	call("GetTask", func() error { _, err := s.GetTask(ctx, root.ID); return err })
	call("GetTasks", func() error { _, err := s.GetTasks(ctx, []string{root.ID}); return err })
	call("ListTasks", func() error { _, err := s.ListTasks(ctx, ports.TaskFilter{}); return err })
	call("CreateStepsBatch", func() error {
		_, err := s.CreateStepsBatch(ctx, []ports.CreateStepsRequest{{Parent: fence, Specs: []ports.StepSpec{spec}, Now: now}})
		return err
	})
	call("ResetStep", func() error { _, err := s.ResetStep(ctx, fence, spec, now); return err })
	call("CompleteSleep", func() error { _, err := s.CompleteSleep(ctx, fence, spec.ID, now); return err })
	call("ClaimTasks", func() error {
		_, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{"x"}, Limit: 1, Now: now, Lease: time.Minute})
		return err
	})
	call("NextWake", func() error {
		_, _, err := s.NextWake(ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{"x"}})
		return err
	})
	call("ParkTask", func() error {
		_, err := s.ParkTask(ctx, ports.ParkParams{Fence: fence, WakeAt: &now, Now: now})
		return err
	})
	call("RenewLeases", func() error { _, err := s.RenewLeases(ctx, []domain.Fence{fence}, now, time.Minute); return err })
	call("CompleteTasks", func() error {
		_, err := s.CompleteTasks(ctx, []ports.CompleteParams{{Fence: fence, Now: now}})
		return err
	})
	call("FailTask", func() error { return s.FailTask(ctx, ports.FailParams{Fence: fence, Error: storeError("x"), Now: now}) })
	call("RetryTask", func() error { return s.RetryTask(ctx, ports.RetryParams{Fence: fence, RunAt: now, Now: now}) })
	call("ReleaseTask", func() error { return s.ReleaseTask(ctx, fence, now, true) })
	call("SendSignal", func() error { _, err := s.SendSignal(ctx, e.ID, "go", js(`1`), now); return err })
	call("DiscardSignal", func() error { _, err := s.DiscardSignal(ctx, e.ID, "go", 1); return err })
	call("CreateSchedule", func() error { _, err := s.CreateSchedule(ctx, newSchedule("s", now), now); return err })
	call("GetSchedule", func() error { _, err := s.GetSchedule(ctx, "s"); return err })
	call("ListSchedules", func() error { _, err := s.ListSchedules(ctx); return err })
	call("UpdateSchedule", func() error { _, err := s.UpdateSchedule(ctx, newSchedule("s", now), now); return err })
	call("DeleteSchedule", func() error { return s.DeleteSchedule(ctx, "s") })
	call("DueSchedules", func() error { _, err := s.DueSchedules(ctx, now, 1); return err })
	call("ForkExecution", func() error {
		_, err := s.ForkExecution(ctx, ports.ForkParams{SourceID: e.ID, FromStep: 1, NewID: domain.NewID(), NewRootID: domain.NewID(), Now: now})
		return err
	})
	call("ResetExecution", func() error {
		_, err := s.ResetExecution(ctx, ports.ResetParams{ID: e.ID, FromStep: 1, Now: now})
		return err
	})
	call("ListSignals", func() error { _, err := insp.ListSignals(ctx, e.ID); return err })
	call("GetCacheEntries", func() error { _, err := insp.GetCacheEntries(ctx, []string{"k"}, now); return err })
	call("GetIdempotencyRecords", func() error { _, err := insp.GetIdempotencyRecords(ctx, []string{"k"}); return err })
	call("ListDeadLetters", func() error { _, err := s.ListDeadLetters(ctx, ports.DeadLetterFilter{}); return err })
	call("GetDeadLetter", func() error { _, err := s.GetDeadLetter(ctx, root.ID); return err })
	call("DiscardDeadLetter", func() error { return s.DiscardDeadLetter(ctx, root.ID) })
	call("ReplayDeadLetter", func() error {
		_, err := s.ReplayDeadLetter(ctx, ports.ReplayParams{TaskID: root.ID, Now: now})
		return err
	})
	call("CountExecutionsByState", func() error { _, err := s.CountExecutionsByState(ctx); return err })
	call("CountTasks", func() error { _, err := s.CountTasks(ctx); return err })
	call("CountDeadLetters", func() error { _, err := s.CountDeadLetters(ctx); return err })
	call("ListFinished", func() error { _, err := s.ListFinished(ctx, ports.FinishedFilter{Since: time.Unix(1, 0)}); return err })
	call("SetQueuePaused", func() error { _, err := s.SetQueuePaused(ctx, "q", true, now); return err })
	call("ListQueues", func() error { _, err := s.ListQueues(ctx); return err })
	call("ListLimitUsage", func() error { _, err := s.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: now}); return err })
	call("RegisterWorker", func() error { return s.RegisterWorker(ctx, domain.WorkerInfo{ID: workerA}, now) })
	call("TouchWorker", func() error { return s.TouchWorker(ctx, workerA, now) })
	call("StopWorker", func() error { return s.StopWorker(ctx, workerA, now) })
	call("ExpireWorkers", func() error {
		_, err := s.ExpireWorkers(ctx, ports.ExpireWorkersParams{IDs: []string{workerA}, Now: now})
		return err
	})
	call("ListWorkers", func() error { _, err := s.ListWorkers(ctx); return err })
	call("Cleanup", func() error { _, err := s.Cleanup(ctx, ports.CleanupParams{Now: now}); return err })
	call("UpsertFunctions", func() error { return s.UpsertFunctions(ctx, []domain.FunctionInfo{{Name: "x"}}, now) })
	call("ListFunctions", func() error { _, err := s.ListFunctions(ctx); return err })
	call("Ping", func() error { return s.Ping(ctx) })
	return errs
}

func testLifecycle(t *testing.T, h storeSuite) {
	h.run(t, "ping answers while the store is open", func(t *testing.T, f *fixture) {
		f.noErr(f.s.Ping(f.ctx), "Ping")
	})

	h.run(t, "closing twice is fine", func(t *testing.T, f *fixture) {
		f.noErr(f.s.Close(), "Close")
		f.noErr(f.s.Close(), "second Close")
	})

	h.run(t, "every method returns ErrClosed after close and none panics", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		f.noErr(f.s.Close(), "Close")
		errs := everyMethod(f, e, root)
		want := reflect.TypeFor[ports.Store]().NumMethod() - 1 + reflect.TypeFor[ports.Inspector]().NumMethod()
		if len(errs) != want {
			t.Errorf("%s: checked %d methods; want all %d besides Close", f.name, len(errs), want)
		}
		for name, err := range errs {
			if !errors.Is(err, domain.ErrClosed) {
				t.Errorf("%s: %s after Close: error %v; want one matching ErrClosed", f.name, name, err)
			}
		}
	})
}
