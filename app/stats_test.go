package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// countOnlyStore is a memstore that fails the test when a List method is
// called: Stats must answer from count queries only (review plan P1.3).
type countOnlyStore struct {
	ports.Store
	t *testing.T
}

func (s countOnlyStore) listed(method string) {
	s.t.Helper()
	s.t.Errorf("Stats called %s; it must use the count queries only", method)
}

func (s countOnlyStore) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
	s.listed("ListExecutions")
	return s.Store.ListExecutions(ctx, f)
}

func (s countOnlyStore) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	s.listed("ListTasks")
	return s.Store.ListTasks(ctx, f)
}

func (s countOnlyStore) ListDeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	s.listed("ListDeadLetters")
	return s.Store.ListDeadLetters(ctx, f)
}

func (s countOnlyStore) ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error) {
	s.listed("ListWorkers")
	return s.Store.ListWorkers(ctx)
}

// TestStatsCountsByStateQueueAndDeadLetters builds, on memstore, a pending
// execution, a running one with a pending sleep and a pending activity on
// another queue, and a failed one with a dead letter; Stats counts them
// without listing anything, and the queue depth counts only pending
// orchestrator and activity tasks.
func TestStatsCountsByStateQueueAndDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	reg := app.NewRegistry()
	noop := func(_ context.Context, n int) (int, error) { return n, nil }
	app.Register(reg, "wf", noop)
	app.Register(reg, "mailer", noop, app.WithQueue("mail"))
	eng, err := app.New(app.Deps{Store: countOnlyStore{Store: mem, t: t}, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	now := time.Now()
	claim := func(fn string) ports.ClaimedTask {
		t.Helper()
		got, err := mem.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{fn}, Limit: 1, Now: now, Lease: time.Hour})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %s: %v, %v", fn, got, err)
		}
		return got[0]
	}
	dispatch := func(fn string) {
		t.Helper()
		if _, err := eng.DispatchByName(ctx, fn, json.RawMessage("1")); err != nil {
			t.Fatal(err)
		}
	}

	dispatch("wf") // running, with a pending sleep and a pending activity on "mail"
	running := claim("wf")
	wake := now.Add(time.Hour)
	if _, err := ports.CreateSteps(ctx, mem, running.Fence(), []ports.StepSpec{
		{ID: domain.StepID(running.ExecutionID, running.ID, 1), Position: 1, Kind: domain.KindSleep, StepName: domain.SleepStepName, Queue: "default", ScheduledFor: &wake},
		{ID: domain.StepID(running.ExecutionID, running.ID, 2), Position: 2, Kind: domain.KindActivity, StepName: "send", Queue: "mail",
			RetryPolicy: domain.DefaultRetryPolicy()},
	}, nil, now); err != nil {
		t.Fatal(err)
	}
	dispatch("mailer") // failed and dead-lettered
	if err := mem.FailTask(ctx, ports.FailParams{Fence: claim("mailer").Fence(), Error: &domain.TaskError{Type: "x", Code: "boom", Message: "boom"}, Now: now}); err != nil {
		t.Fatal(err)
	}
	dispatch("wf") // pending

	s, err := eng.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Executions[domain.ExecutionPending] != 1 || s.Executions[domain.ExecutionRunning] != 1 || s.Executions[domain.ExecutionFailed] != 1 ||
		s.Tasks[domain.TaskPending] != 3 || s.DeadLetters != 1 || s.QueueDepth["default"] != 1 || s.QueueDepth["mail"] != 1 {
		t.Fatalf("stats %+v; want 1 pending, 1 running and 1 failed execution, 3 pending tasks, 1 dead letter, "+
			"queue depth 1 on default and 1 on mail (the sleep does not count)", s)
	}
}
