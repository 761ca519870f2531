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
		claim := func(limit int, lease time.Duration) func() error {
			return func() error {
				_, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{"job", "parent"}, Limit: limit, Now: now, Lease: lease})
				return err
			}
		}
		renew := func(lease time.Duration) func() error {
			return func() error { _, err := f.s.RenewLeases(f.ctx, []domain.Fence{root.Fence()}, now, lease); return err }
		}
		expire := func(limit int) func() error {
			return func() error { _, err := f.s.ExpireOverdue(f.ctx, now, limit); return err }
		}
		listExec := func(fl ports.ExecutionFilter) func() error {
			return func() error { _, err := f.s.ListExecutions(f.ctx, fl); return err }
		}
		listTasks := func(fl ports.TaskFilter) func() error {
			return func() error { _, err := f.s.ListTasks(f.ctx, fl); return err }
		}
		listDead := func(fl ports.DeadLetterFilter) func() error {
			return func() error { _, err := f.s.ListDeadLetters(f.ctx, fl); return err }
		}
		create := func(mutate func(*domain.Execution, *domain.Task)) func() error {
			return func() error {
				e, r := buildExecution(execOpts{Fn: "job"})
				mutate(&e, &r)
				_, _, err := f.s.CreateExecution(f.ctx, e, r)
				return err
			}
		}
		before := f.snapshot(pendingExec.ID, overdue.ID)
		for _, tc := range []struct {
			name  string
			value string // the bad value the message must name; "" skips the check
			call  func() error
		}{
			{"a claim with limit 0", "0", claim(0, time.Minute)},
			{"a claim with a negative limit", "-5", claim(-5, time.Minute)},
			{"a claim with lease 0", "0", claim(1, 0)},
			{"a claim with a negative lease", "-1s", claim(1, -time.Second)},
			{"a renewal with lease 0", "0", renew(0)},
			{"a renewal with a negative lease", "-2s", renew(-2 * time.Second)},
			{"an expiry sweep with limit 0", "0", expire(0)},
			{"an expiry sweep with a negative limit", "-7", expire(-7)},
			{"executions with a negative limit", "-1", listExec(ports.ExecutionFilter{Limit: -1})},
			{"executions with a negative offset", "-2", listExec(ports.ExecutionFilter{Offset: -2})},
			{"executions in an unknown state", "bogus", listExec(ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionPending, "bogus"}})},
			{"tasks with a negative limit", "-3", listTasks(ports.TaskFilter{Limit: -3})},
			{"tasks with a negative offset", "-4", listTasks(ports.TaskFilter{Offset: -4})},
			{"tasks in an unknown state", "zombie", listTasks(ports.TaskFilter{States: []domain.TaskState{"zombie"}})},
			{"tasks of an unknown kind", "widget", listTasks(ports.TaskFilter{Kinds: []domain.TaskKind{domain.KindActivity, "widget"}})},
			{"dead letters with a negative limit", "-5", listDead(ports.DeadLetterFilter{Limit: -5})},
			{"dead letters with a negative offset", "-6", listDead(ports.DeadLetterFilter{Offset: -6})},
			{"an execution without an id", "", create(func(e *domain.Execution, r *domain.Task) { e.ID, r.ExecutionID = "", "" })},
			{"an execution without a root task id", "", create(func(e *domain.Execution, r *domain.Task) { e.RootTaskID, r.ID = "", "" })},
			{"an execution without a function", "", create(func(e *domain.Execution, r *domain.Task) { e.RootFunction, r.StepName = "", "" })},
			{"a root task id that differs from RootTaskID", "other-root", create(func(e *domain.Execution, r *domain.Task) { r.ID = "other-root" })},
			{"an empty execution id to get", "", func() error { _, err := f.s.GetExecution(f.ctx, ""); return err }},
			{"an empty task id to get", "", func() error { _, err := f.s.GetTask(f.ctx, ""); return err }},
		} {
			err := tc.call()
			f.isErr(err, domain.ErrInvalidArgument, tc.name)
			if tc.value != "" {
				f.errNames(err, domain.ErrInvalidArgument, tc.value, tc.name)
			}
		}
		f.unchanged(before, "calls with bad arguments", pendingExec.ID, overdue.ID)
	})
}
