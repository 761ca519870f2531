package contract

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func testExecutions(t *testing.T, h storeSuite) {
	h.run(t, "a dispatch whose root task id is taken conflicts and writes nothing", func(t *testing.T, f *fixture) {
		first, firstRoot := f.create(execOpts{Fn: "order"})
		exec, root := buildExecution(execOpts{Fn: "order"})
		root.ID, exec.RootTaskID = firstRoot.ID, firstRoot.ID
		_, _, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.isErr(err, domain.ErrConflict, "CreateExecution with a used root task id")
		if _, err := f.s.GetExecution(f.ctx, exec.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: GetExecution of the refused dispatch: %v; want ErrNotFound (nothing written)", f.name, err)
		}
		f.eq("the first execution's root", f.task(firstRoot.ID).ExecutionID, first.ID)
	})

	h.run(t, "create stores the execution and its root task as pending", func(t *testing.T, f *fixture) {
		sched, deadline := at(time.Minute), at(time.Hour)
		exec, root := buildExecution(execOpts{
			Fn: "order", Queue: "payments", Tags: []string{"eu", "gpu"}, Priority: 7, MaxConcurrent: 3,
			Input: `{"b": 2,  "a" : [1,2]}`, Key: "dispatch-key", ScheduledFor: &sched, Deadline: &deadline,
		})
		root.TraceContext = map[string]string{"traceparent": "00-abc-def-01"}
		id, created, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.noErr(err, "CreateExecution")
		if id != exec.ID || !created {
			t.Fatalf("CreateExecution = (%q, %v); want (%q, true)", id, created, exec.ID)
		}

		e := f.exec(exec.ID)
		f.eq("execution state", e.State, domain.ExecutionPending)
		f.eq("root function", e.RootFunction, "order")
		f.eq("root task id", e.RootTaskID, root.ID)
		f.eqRaw("execution input", e.Input, js(`{"b": 2,  "a" : [1,2]}`))
		f.eqRaw("execution result", e.Result, nil)
		f.eq("execution error", e.Error == nil, true)
		f.eq("idempotency key", e.IdempotencyKey, "dispatch-key")
		f.eq("execution tags", e.Tags, []string{"eu", "gpu"})
		f.eq("execution priority", e.Priority, 7)
		f.eq("execution queue", e.Queue, "payments")
		f.eqTimePtr("execution scheduled_for", e.ScheduledFor, &sched)
		f.eqTimePtr("execution deadline", e.Deadline, &deadline)
		f.eqTime("execution created_at", e.CreatedAt, epoch)
		f.eqTime("execution updated_at", e.UpdatedAt, epoch)
		f.eqTimePtr("execution started_at", e.StartedAt, nil)
		f.eqTimePtr("execution finished_at", e.FinishedAt, nil)

		r := f.task(root.ID)
		f.eq("root execution id", r.ExecutionID, exec.ID)
		f.eq("root parent", r.ParentTaskID, "")
		f.eq("root position", r.Position, 0)
		f.eq("root kind", r.Kind, domain.KindOrchestrator)
		f.eq("root step name", r.StepName, "order")
		f.eq("root state", r.State, domain.TaskPending)
		f.eq("root attempt", r.Attempt, 0)
		f.eq("root generation", r.Generation, 0)
		f.eqRaw("root input", r.Input, js(`{"b": 2,  "a" : [1,2]}`))
		f.eq("root retry policy", r.RetryPolicy, storePolicy)
		f.eq("root max concurrent", r.MaxConcurrent, 3)
		f.eq("root tags", r.Tags, []string{"eu", "gpu"})
		f.eq("root priority", r.Priority, 7)
		f.eq("root queue", r.Queue, "payments")
		f.eq("root trace context", r.TraceContext, map[string]string{"traceparent": "00-abc-def-01"})
		f.eqTimePtr("root deadline (copied from the execution)", r.Deadline, &deadline)
		f.eqTimePtr("root scheduled_for (copied from the execution)", r.ScheduledFor, &sched)
		f.eqTime("root created_at", r.CreatedAt, epoch)
		f.eqTime("root updated_at", r.UpdatedAt, epoch)
		f.eq("root lease", fmt.Sprint(r.WorkerID, r.ClaimToken, r.LeaseExpiresAt), fmt.Sprint("", "", (*time.Time)(nil)))
	})

	h.run(t, "a reused idempotency key returns the first execution and writes nothing", func(t *testing.T, f *fixture) {
		first, _ := f.create(execOpts{Key: "same-key"})
		exec, root := buildExecution(execOpts{Key: "same-key"})
		id, created, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.noErr(err, "second CreateExecution")
		if id != first.ID || created {
			t.Fatalf("second CreateExecution = (%q, %v); want (%q, false)", id, created, first.ID)
		}
		_, err = f.s.GetExecution(f.ctx, exec.ID)
		f.isErr(err, domain.ErrNotFound, "the second execution")
		_, err = f.s.GetTask(f.ctx, root.ID)
		f.isErr(err, domain.ErrNotFound, "the second root task")
	})

	h.run(t, "an existing id returns created false and keeps the first root task", func(t *testing.T, f *fixture) {
		first, firstRoot := f.create(execOpts{Fn: "order", Input: `1`})
		exec, root := buildExecution(execOpts{ID: first.ID, Fn: "order", Input: `2`})
		id, created, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.noErr(err, "second CreateExecution")
		if id != first.ID || created {
			t.Fatalf("second CreateExecution = (%q, %v); want (%q, false)", id, created, first.ID)
		}
		f.eqRaw("input", f.exec(first.ID).Input, js(`1`))
		f.eq("root task id", f.exec(first.ID).RootTaskID, firstRoot.ID)
		_, err = f.s.GetTask(f.ctx, root.ID)
		f.isErr(err, domain.ErrNotFound, "the second root task")
	})

	h.run(t, "an existing id with another root function is a conflict", func(t *testing.T, f *fixture) {
		first, _ := f.create(execOpts{Fn: "order"})
		before := f.snapshot(first.ID)
		exec, root := buildExecution(execOpts{ID: first.ID, Fn: "refund"})
		_, _, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.isErr(err, domain.ErrConflict, "CreateExecution with another function")
		f.unchanged(before, "a conflicting CreateExecution", first.ID)
	})

	h.run(t, "a caller-chosen id that is not a uuid is kept as given", func(t *testing.T, f *fixture) {
		e, root := f.create(execOpts{ID: "order-42/retry #1"})
		f.eq("execution id", e.ID, "order-42/retry #1")
		f.eq("root execution id", root.ExecutionID, "order-42/retry #1")
		list, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{})
		f.noErr(err, "ListExecutions")
		f.eq("listed ids", len(list) == 1 && list[0].ID == e.ID, true)
	})

	h.run(t, "an unknown execution or task is not found and the error names the id", func(t *testing.T, f *fixture) {
		id := domain.NewID()
		_, err := f.s.GetExecution(f.ctx, id)
		f.errNames(err, domain.ErrNotFound, id, "GetExecution")
		_, err = f.s.GetTask(f.ctx, id)
		f.errNames(err, domain.ErrNotFound, id, "GetTask")
		_, err = f.s.ListProgress(f.ctx, id)
		f.errNames(err, domain.ErrNotFound, id, "ListProgress")
		_, err = f.s.GetExecutionData(f.ctx, id)
		f.errNames(err, domain.ErrNotFound, id, "GetExecutionData")
	})

	h.run(t, "executions list newest first with the id breaking ties", func(t *testing.T, f *fixture) {
		f.create(execOpts{ID: uuidN(1), CreatedAt: at(time.Second)})
		f.create(execOpts{ID: uuidN(2), CreatedAt: at(time.Second)})
		f.create(execOpts{ID: uuidN(3), CreatedAt: at(0)})
		f.create(execOpts{ID: uuidN(4), CreatedAt: at(2 * time.Second)})
		list, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{})
		f.noErr(err, "ListExecutions")
		f.eq("order", execIDs(list), []string{uuidN(4), uuidN(2), uuidN(1), uuidN(3)})
	})

	h.run(t, "executions filter by state, function and queue", func(t *testing.T, f *fixture) {
		a, _ := f.create(execOpts{Fn: "alpha", Queue: "q1", CreatedAt: at(1 * time.Second)})
		b, _ := f.start(execOpts{Fn: "beta", Queue: "q1", CreatedAt: at(2 * time.Second)})
		c, _ := f.create(execOpts{Fn: "alpha", Queue: "q2", CreatedAt: at(3 * time.Second)})
		_, _, err := f.s.CancelExecution(f.ctx, c.ID, at(4*time.Second))
		f.noErr(err, "CancelExecution")
		for _, tc := range []struct {
			filter ports.ExecutionFilter
			want   []string
		}{
			{ports.ExecutionFilter{}, []string{c.ID, b.ID, a.ID}},
			{ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionPending}}, []string{a.ID}},
			{ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionRunning, domain.ExecutionCancelled}}, []string{c.ID, b.ID}},
			{ports.ExecutionFilter{Function: "alpha"}, []string{c.ID, a.ID}},
			{ports.ExecutionFilter{Queue: "q1"}, []string{b.ID, a.ID}},
			{ports.ExecutionFilter{Function: "alpha", Queue: "q2", States: []domain.ExecutionState{domain.ExecutionCancelled}}, []string{c.ID}},
			{ports.ExecutionFilter{Function: "gamma"}, nil},
		} {
			list, err := f.s.ListExecutions(f.ctx, tc.filter)
			f.noErr(err, "ListExecutions")
			f.eq(fmt.Sprintf("ListExecutions(%+v)", tc.filter), execIDs(list), tc.want)
		}
	})

	h.run(t, "executions page with limit and offset and limit 0 means 100", func(t *testing.T, f *fixture) {
		var want []string
		for i := range 105 {
			f.create(execOpts{ID: uuidN(i), CreatedAt: at(time.Duration(i) * time.Microsecond)})
			want = append([]string{uuidN(i)}, want...)
		}
		list, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{})
		f.noErr(err, "ListExecutions")
		f.eq("default page", execIDs(list), want[:100])
		list, err = f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Limit: 10, Offset: 100})
		f.noErr(err, "ListExecutions")
		f.eq("last page", execIDs(list), want[100:])
		list, err = f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Limit: 3, Offset: 4})
		f.noErr(err, "ListExecutions")
		f.eq("middle page", execIDs(list), want[4:7])
		list, err = f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Offset: 200})
		f.noErr(err, "ListExecutions")
		f.eq("past the end", len(list), 0)
	})

	h.run(t, "get tasks keeps the order asked and skips missing ids", func(t *testing.T, f *fixture) {
		_, r1 := f.create(execOpts{})
		_, r2 := f.create(execOpts{})
		got, err := f.s.GetTasks(f.ctx, []string{r2.ID, domain.NewID(), r1.ID})
		f.noErr(err, "GetTasks")
		f.eq("ids", taskIDs(got), []string{r2.ID, r1.ID})
		got, err = f.s.GetTasks(f.ctx, nil)
		f.noErr(err, "GetTasks(nil)")
		f.eq("no ids", len(got), 0)
	})

	h.run(t, "tasks list newest first and filter by every field", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{Queue: "rootq", CreatedAt: at(0)})
		a := activitySpec(root, 1, "fetch")
		a.Queue = "io"
		b := activitySpec(root, 2, "fetch")
		c := activitySpec(root, 3, "store")
		kids := f.steps(root, at(time.Second), a, b, c)
		sl := f.steps(root, at(2*time.Second), sleepSpec(root, 4, at(time.Hour)))[0]
		f.claimID(at(3*time.Second), kids[2].ID) // store: running
		other, _ := f.create(execOpts{CreatedAt: at(5 * time.Second)})

		sameTime := sortedTaskIDs(kids) // created together: id desc
		slices.Reverse(sameTime)
		all := append([]string{other.RootTaskID, sl.ID}, sameTime...)
		all = append(all, root.ID)
		for _, tc := range []struct {
			name   string
			filter ports.TaskFilter
			want   []string
		}{
			{"everything", ports.TaskFilter{}, all},
			{"execution", ports.TaskFilter{ExecutionID: e.ID}, all[1:]},
			{"parent", ports.TaskFilter{ParentTaskID: root.ID}, all[1:5]},
			{"queue", ports.TaskFilter{Queue: "io"}, []string{kids[0].ID}},
			{"kind", ports.TaskFilter{Kinds: []domain.TaskKind{domain.KindSleep, domain.KindOrchestrator}}, []string{other.RootTaskID, sl.ID, root.ID}},
			{"state", ports.TaskFilter{ExecutionID: e.ID, States: []domain.TaskState{domain.TaskRunning}}, filterIDs(sameTime, kids[2].ID, root.ID)},
			{"step name", ports.TaskFilter{StepName: "fetch"}, filterIDs(sameTime, kids[0].ID, kids[1].ID)},
			{"page", ports.TaskFilter{Limit: 2, Offset: 1}, all[1:3]},
		} {
			got, err := f.s.ListTasks(f.ctx, tc.filter)
			f.noErr(err, "ListTasks")
			f.eq("ListTasks by "+tc.name, taskIDs(got), tc.want)
		}
	})

	h.run(t, "ListTasks by several parents returns the children of each, newest first", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		kids := f.steps(root, at(time.Second), activitySpec(root, 1, "mid"), sleepSpec(root, 2, at(time.Hour)))
		mid := f.claimID(at(2*time.Second), kids[0].ID)
		leaf := f.steps(mid, at(3*time.Second), activitySpec(mid, 1, "leaf"))[0]
		other, _ := f.start(execOpts{}) // a root without children
		sameTime := sortedTaskIDs(kids)
		slices.Reverse(sameTime)
		for _, tc := range []struct {
			name   string
			filter ports.TaskFilter
			want   []string
		}{
			{"two parents", ports.TaskFilter{ParentTaskIDs: []string{root.ID, mid.ID}}, append([]string{leaf.ID}, sameTime...)},
			{"two parents and an unknown id", ports.TaskFilter{ParentTaskIDs: []string{"no-such-task", mid.ID, other.RootTaskID}}, []string{leaf.ID}},
			{"one parent", ports.TaskFilter{ParentTaskIDs: []string{root.ID}}, sameTime},
			{"parents and execution", ports.TaskFilter{ExecutionID: e.ID, ParentTaskIDs: []string{root.ID, mid.ID}, States: []domain.TaskState{domain.TaskPending}}, []string{leaf.ID, kids[1].ID}},
			{"parents and a page", ports.TaskFilter{ParentTaskIDs: []string{root.ID, mid.ID}, Limit: 2, Offset: 1}, sameTime},
			{"an empty list", ports.TaskFilter{ParentTaskIDs: []string{}}, []string{}},
			{"the other execution", ports.TaskFilter{ExecutionID: other.ID, ParentTaskIDs: []string{root.ID}}, []string{}},
		} {
			got, err := f.s.ListTasks(f.ctx, tc.filter)
			f.noErr(err, "ListTasks")
			f.eq("ListTasks by "+tc.name, taskIDs(got), tc.want)
		}
	})

	h.run(t, "progress has one entry per task in creation then position order", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		late := f.steps(root, at(2*time.Second), activitySpec(root, 1, "late"))[0]
		early := f.steps(root, at(time.Second), activitySpec(root, 3, "b"), activitySpec(root, 2, "a"))
		child := f.claimID(at(3*time.Second), early[1].ID)
		f.fail(child, "boom", at(4*time.Second))
		got, err := f.s.ListProgress(f.ctx, e.ID)
		f.noErr(err, "ListProgress")
		want := []string{root.ID, early[1].ID, early[0].ID, late.ID}
		var gotIDs []string
		for _, p := range got {
			gotIDs = append(gotIDs, p.TaskID)
		}
		f.eq("progress order", gotIDs, want)
		if len(got) == 4 {
			p := got[1]
			f.eq("entry", fmt.Sprint(p.ParentID, p.Position, p.Kind, p.Step, p.State, p.Attempt),
				fmt.Sprint(root.ID, 2, domain.KindActivity, "a", domain.TaskFailed, 1))
			f.eqTime("entry created_at", p.CreatedAt, at(time.Second))
			f.eqTimePtr("entry started_at", p.StartedAt, ptrTo(at(3*time.Second)))
			f.eqTimePtr("entry finished_at", p.FinishedAt, ptrTo(at(4*time.Second)))
			f.eq("entry error code", p.Error != nil && p.Error.Code == "boom", true)
		}
	})

	h.run(t, "stored values never alias what callers pass in or get back", func(t *testing.T, f *fixture) {
		exec, root := buildExecution(execOpts{Input: `{"a":1}`, Tags: []string{"t1"}})
		root.TraceContext = map[string]string{"k": "v"}
		_, _, err := ports.CreateExecution(f.ctx, f.s, exec, root)
		f.noErr(err, "CreateExecution")
		exec.Input[2], root.Input[2], exec.Tags[0], root.Tags[0] = 'X', 'X', "changed", "changed"
		root.TraceContext["k"] = "changed"
		got := f.task(root.ID)
		got.Input[2], got.Tags[0], got.TraceContext["k"] = 'Y', "again", "again"
		gotExec := f.exec(exec.ID)
		gotExec.Input[2], gotExec.Tags[0] = 'Y', "again"
		f.eqRaw("stored execution input", f.exec(exec.ID).Input, js(`{"a":1}`))
		f.eq("stored execution tags", f.exec(exec.ID).Tags, []string{"t1"})
		stored := f.task(root.ID)
		f.eqRaw("stored root input", stored.Input, js(`{"a":1}`))
		f.eq("stored root tags", stored.Tags, []string{"t1"})
		f.eq("stored root trace context", stored.TraceContext, map[string]string{"k": "v"})
	})

	h.run(t, "execution data starts as empty non-nil maps", func(t *testing.T, f *fixture) {
		e, _ := f.create(execOpts{})
		d := f.data(e.ID)
		if d.Counters == nil || d.State == nil || len(d.Counters)+len(d.State) != 0 {
			t.Errorf("GetExecutionData = %+v; want empty non-nil maps", d)
		}
	})
}

func execIDs(es []domain.Execution) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// filterIDs keeps the taskIDs of order that are in keep, in order's order,
// then appends the keep taskIDs not in order (in the order given).
func filterIDs(order []string, keep ...string) []string {
	var out []string
	for _, id := range order {
		if slices.Contains(keep, id) {
			out = append(out, id)
		}
	}
	for _, id := range keep {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
