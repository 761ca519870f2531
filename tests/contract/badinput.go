package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func testBadInput(t *testing.T, h storeSuite) {
	h.run(t, "bad arguments are invalid, name the value and write nothing", func(t *testing.T, f *fixture) {
		// Work that any write slipping through would change: a pending
		// root, an overdue running execution with a pending child.
		pendingExec, _ := f.create(execOpts{Fn: "job"})
		overdue, root := f.start(execOpts{Fn: "parent", Deadline: ptrTo(at(time.Second))})
		f.steps(root, at(time.Second), activitySpec(root, 1, "job"))
		now := at(time.Minute)
		claimP := func(p ports.ClaimParams) badCall {
			return bad(p.Validate(), func() error { _, err := f.s.ClaimTasks(f.ctx, p); return err })
		}
		claim := func(limit int, lease time.Duration) badCall {
			return claimP(ports.ClaimParams{WorkerID: workerA, Functions: []string{"job", "parent"}, Limit: limit, Now: now, Lease: lease})
		}
		renew := func(lease time.Duration) badCall {
			return bad(ports.ValidateLease(lease), func() error {
				_, err := f.s.RenewLeases(f.ctx, []domain.Fence{root.Fence()}, now, lease)
				return err
			})
		}
		expire := func(limit int) badCall {
			return bad(ports.ValidateSweepLimit(limit), func() error { _, err := f.s.ExpireOverdue(f.ctx, now, limit); return err })
		}
		listExec := func(fl ports.ExecutionFilter) badCall {
			return bad(fl.Validate(), func() error { _, err := f.s.ListExecutions(f.ctx, fl); return err })
		}
		listTasks := func(fl ports.TaskFilter) badCall {
			return bad(fl.Validate(), func() error { _, err := f.s.ListTasks(f.ctx, fl); return err })
		}
		listDead := func(fl ports.DeadLetterFilter) badCall {
			return bad(fl.Validate(), func() error { _, err := f.s.ListDeadLetters(f.ctx, fl); return err })
		}
		create := func(mutate func(*domain.Execution, *domain.Task)) badCall {
			e, r := buildExecution(execOpts{Fn: "job"})
			mutate(&e, &r)
			return bad(ports.NewExecution{Execution: e, Root: r}.Validate(), func() error {
				_, _, err := ports.CreateExecution(f.ctx, f.s, e, r)
				return err
			})
		}
		createBatch := func(mutate func(*domain.Execution, *domain.Task)) badCall {
			good, goodRoot := buildExecution(execOpts{Fn: "job"})
			e, r := buildExecution(execOpts{Fn: "job"})
			mutate(&e, &r)
			return bad(ports.NewExecution{Execution: e, Root: r}.Validate(), func() error {
				_, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: good, Root: goodRoot}, {Execution: e, Root: r}})
				return err
			})
		}
		const (
			positive   = "want > 0"
			notNeg     = "want 0 or more"
			idRequired = "an id is required"
		)
		cases := []badCase{
			{"a claim without a worker id", "", idRequired, claimP(ports.ClaimParams{Functions: []string{"job"}, Limit: 1, Now: now, Lease: time.Minute})},
			{"a claim with limit 0", "0", positive, claim(0, time.Minute)},
			{"a claim with a negative limit", "-5", positive, claim(-5, time.Minute)},
			{"a claim with lease 0", "0", positive, claim(1, 0)},
			{"a claim with a negative lease", "-1s", positive, claim(1, -time.Second)},
			{"a renewal with lease 0", "0", positive, renew(0)},
			{"a renewal with a negative lease", "-2s", positive, renew(-2 * time.Second)},
			{"an expiry sweep with limit 0", "0", positive, expire(0)},
			{"an expiry sweep with a negative limit", "-7", positive, expire(-7)},
			{"executions with a negative limit", "-1", notNeg, listExec(ports.ExecutionFilter{Limit: -1})},
			{"executions with a negative offset", "-2", notNeg, listExec(ports.ExecutionFilter{Offset: -2})},
			{"executions in an unknown state", "bogus", "allowed: pending, running, completed, failed, timed_out, cancelled",
				listExec(ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionPending, "bogus"}})},
			{"tasks with a negative limit", "-3", notNeg, listTasks(ports.TaskFilter{Limit: -3})},
			{"tasks with a negative offset", "-4", notNeg, listTasks(ports.TaskFilter{Offset: -4})},
			{"tasks in an unknown state", "zombie", "allowed: pending, running, waiting, completed, failed, cancelled",
				listTasks(ports.TaskFilter{States: []domain.TaskState{"zombie"}})},
			{"tasks of an unknown kind", "widget", "allowed: orchestrator, activity, sleep, signal, link",
				listTasks(ports.TaskFilter{Kinds: []domain.TaskKind{domain.KindActivity, "widget"}})},
			{"dead letters with a negative limit", "-5", notNeg, listDead(ports.DeadLetterFilter{Limit: -5})},
			{"dead letters with a negative offset", "-6", notNeg, listDead(ports.DeadLetterFilter{Offset: -6})},
			{"an empty execution id to get", "", idRequired, bad(ports.ValidateID("execution id", ""), func() error {
				_, err := f.s.GetExecution(f.ctx, "")
				return err
			})},
			{"an empty task id to get", "", idRequired, bad(ports.ValidateID("task id", ""), func() error {
				_, err := f.s.GetTask(f.ctx, "")
				return err
			})},
		}
		for _, c := range []struct {
			name, value, allowed string
			mutate               func(*domain.Execution, *domain.Task)
		}{
			{"an execution without an id", "", idRequired, func(e *domain.Execution, r *domain.Task) { e.ID, r.ExecutionID = "", "" }},
			{"an execution without a root task id", "", idRequired, func(e *domain.Execution, r *domain.Task) { e.RootTaskID, r.ID = "", "" }},
			{"an execution without a function", "", "a name is required", func(e *domain.Execution, r *domain.Task) { e.RootFunction, r.StepName = "", "" }},
			{"a root task id that differs from RootTaskID", "other-root", "want the same id", func(e *domain.Execution, r *domain.Task) { r.ID = "other-root" }},
			{"a root task of another execution", "other-exec", "want the same id", func(e *domain.Execution, r *domain.Task) { r.ExecutionID = "other-exec" }},
			{"a root task that has a parent", "a-parent", "a root has none", func(e *domain.Execution, r *domain.Task) { r.ParentTaskID = "a-parent" }},
			{"a root task that is not an orchestrator", "activity", "want orchestrator", func(e *domain.Execution, r *domain.Task) { r.Kind = domain.KindActivity }},
			{"a root task not at position 0", "3", "want 0", func(e *domain.Execution, r *domain.Task) { r.Position = 3 }},
			{"a root task that runs another function", "other-fn", "want the root function", func(e *domain.Execution, r *domain.Task) { r.StepName = "other-fn" }},
			{"a root task with a negative max concurrent", "-2", "want 0 (no limit) or more", func(e *domain.Execution, r *domain.Task) { r.MaxConcurrent = -2 }},
		} {
			cases = append(cases,
				badCase{c.name, c.value, c.allowed, create(c.mutate)},
				badCase{"in a batch, " + c.name, c.value, c.allowed, createBatch(c.mutate)})
		}
		before := f.snapshot(pendingExec.ID, overdue.ID)
		f.checkBad(cases)
		n, err := f.s.CountExecutionsByState(f.ctx)
		f.noErr(err, "CountExecutionsByState")
		f.eq("executions after bad creates", n[domain.ExecutionPending]+n[domain.ExecutionRunning], 2)
		f.unchanged(before, "calls with bad arguments", pendingExec.ID, overdue.ID)
	})
}
