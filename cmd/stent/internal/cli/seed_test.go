package cli_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// t0 is the seed's base time; the CLI's clock stands at cliNow.
var (
	t0     = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	cliNow = t0.Add(time.Hour)
)

// Ids of the seeded executions and their root tasks.
const (
	exCompleted = "ex-completed"
	exFailed    = "ex-failed"
	exRunning   = "ex-running"
	exPending   = "ex-pending"
	exCancelled = "ex-cancelled"
	exTimedOut  = "ex-timed-out"
	exWaiting   = "ex-waiting"
)

func rootOf(exec string) string { return "root-" + exec }

// stepOf is the id of the n-th step of an execution's root.
func stepOf(exec string, n int) string { return domain.StepID(exec, rootOf(exec), n) }

var seedPolicy = domain.RetryPolicy{
	MaxAttempts: 3, InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: 0.1,
	NonRetryable: []string{"card_declined"},
}

// seeder writes the fixed data set through the store port, with explicit
// times and ids, so every backend holds the same rows.
type seeder struct {
	t   *testing.T
	ctx context.Context
	st  ports.Store
}

func (s *seeder) must(err error, what string) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("seed: %s: %v", what, err)
	}
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func (s *seeder) create(id, fn, queue, input string, created time.Time, mod func(*domain.Execution)) {
	s.t.Helper()
	exec := domain.Execution{
		ID: id, RootFunction: fn, RootTaskID: rootOf(id), Input: json.RawMessage(input), Queue: queue,
		CreatedAt: created, UpdatedAt: created,
	}
	if mod != nil {
		mod(&exec)
	}
	root := domain.Task{
		ID: rootOf(id), ExecutionID: id, Kind: domain.KindOrchestrator, StepName: fn, Input: exec.Input,
		RetryPolicy: seedPolicy, Tags: exec.Tags, Priority: exec.Priority, Queue: queue, ScheduledFor: exec.ScheduledFor,
		CreatedAt: created, UpdatedAt: created,
	}
	_, created2, err := ports.CreateExecution(s.ctx, s.st, exec, root)
	s.must(err, "create "+id)
	if !created2 {
		s.t.Fatalf("seed: %s already exists", id)
	}
}

// claim claims exactly the task want.
func (s *seeder) claim(want, fn, worker string, now time.Time, lease time.Duration) domain.Fence {
	s.t.Helper()
	got, err := s.st.ClaimTasks(s.ctx, ports.ClaimParams{WorkerID: worker, Functions: []string{fn}, Limit: 1, Now: now, Lease: lease})
	s.must(err, "claim "+want)
	if len(got) != 1 || got[0].ID != want {
		s.t.Fatalf("seed: claim %s got %+v", want, got)
	}
	return got[0].Fence()
}

func (s *seeder) steps(parent domain.Fence, now time.Time, ops []domain.DataOp, specs ...ports.StepSpec) {
	s.t.Helper()
	_, err := ports.CreateSteps(s.ctx, s.st, parent, specs, ops, now)
	s.must(err, "create steps")
}

func activity(exec string, pos int, fn, input string) ports.StepSpec {
	return ports.StepSpec{ID: stepOf(exec, pos), Position: pos, Kind: domain.KindActivity, StepName: fn,
		Input: json.RawMessage(input), RetryPolicy: seedPolicy, Queue: domain.DefaultQueue}
}

func cardDeclined(msg string) *domain.TaskError {
	return &domain.TaskError{Type: "card_declined", Code: "card_declined", Codes: []string{"card_declined"}, Message: msg}
}

// seed writes six executions, one per state, and a running one parked on
// a sleep, with steps, data, signals, dead letters, a function catalogue
// and a worker registry (live, stopped and dead workers).
func seed(t *testing.T, st ports.Store) {
	t.Helper()
	s := &seeder{t: t, ctx: context.Background(), st: st}
	lease := 2 * time.Hour

	for _, w := range []domain.WorkerInfo{
		{ID: "worker-1", Host: "host-a", PID: 4101, Process: "proc-a", Functions: []string{"charge", "order"}},
		{ID: "worker-2", Name: "reports-1", Host: "host-a", PID: 4102, Process: "proc-b", Queues: []string{"reports", "default"},
			Functions: []string{"render", "report"}},
		{ID: "worker-3", Name: "batch-1", Host: "host-c", PID: 77, Process: "proc-c", Queues: []string{"batch", "default"},
			Functions: []string{"charge"}},
	} {
		s.must(s.st.RegisterWorker(s.ctx, w, t0), "register "+w.ID)
	}
	s.must(s.st.StopWorker(s.ctx, "worker-3", at(5*time.Minute)), "stop worker-3")

	// completed: a call, a sleep, a signal wait and data.
	s.create(exCompleted, "order", "default", `{"order": 7}`, at(0), nil)
	root := s.claim(rootOf(exCompleted), "order", "worker-1", at(time.Second), lease)
	s.steps(root, at(2*time.Second), []domain.DataOp{
		{Kind: domain.OpAddCounter, Key: "progress", Number: 1},
		{Kind: domain.OpInitState, Key: "owner", Value: json.RawMessage(`"alice"`)},
	}, activity(exCompleted, 1, "charge", `{"card":"4242"}`))
	child := s.claim(stepOf(exCompleted, 1), "charge", "worker-1", at(2*time.Second), lease)
	s.must(ports.CompleteTask(s.ctx, s.st, ports.CompleteParams{Fence: child, Result: json.RawMessage(`{"receipt":"r-1"}`),
		Ops: []domain.DataOp{{Kind: domain.OpAddCounter, Key: "volume", Number: 30}}, Now: at(4 * time.Second)}), "complete charge")
	wake := at(15 * time.Second)
	s.steps(root, at(5*time.Second), nil, ports.StepSpec{ID: stepOf(exCompleted, 2), Position: 2, Kind: domain.KindSleep,
		StepName: domain.SleepStepName, ScheduledFor: &wake})
	_, err := s.st.CompleteSleep(s.ctx, root, stepOf(exCompleted, 2), wake)
	s.must(err, "complete sleep")
	s.steps(root, at(16*time.Second), nil, ports.StepSpec{ID: stepOf(exCompleted, 3), Position: 3, Kind: domain.KindSignal,
		StepName: domain.SignalStepName("approval")})
	_, err = s.st.SendSignal(s.ctx, exCompleted, "approval", json.RawMessage(`{"ok":true}`), at(20*time.Second))
	s.must(err, "send signal")
	s.must(ports.CompleteTask(s.ctx, s.st, ports.CompleteParams{Fence: root, Result: json.RawMessage(`{"total":42}`),
		Ops: []domain.DataOp{{Kind: domain.OpSetState, Key: "phase", Value: json.RawMessage(`"done"`)}}, Now: at(21 * time.Second)}), "complete root")

	// failed: a child fails for good, then the root; two dead letters.
	s.create(exFailed, "order", "default", `{"order":8}`, at(time.Minute), nil)
	root = s.claim(rootOf(exFailed), "order", "worker-1", at(time.Minute+time.Second), lease)
	s.steps(root, at(time.Minute+2*time.Second), nil, activity(exFailed, 1, "charge", `{"card":"0000"}`))
	child = s.claim(stepOf(exFailed, 1), "charge", "worker-1", at(time.Minute+2*time.Second), lease)
	s.must(s.st.FailTask(s.ctx, ports.FailParams{Fence: child, Error: cardDeclined("card declined"),
		Reason: "non-retryable error", Now: at(time.Minute + 5*time.Second)}), "fail charge")
	s.must(s.st.FailTask(s.ctx, ports.FailParams{Fence: root, Error: cardDeclined("charge: card declined"),
		Reason: "non-retryable error", Now: at(time.Minute + 6*time.Second)}), "fail root")

	// running: two mapped steps, one done, one running.
	s.create(exRunning, "report", "reports", `{"month":"2030-01"}`, at(2*time.Minute), nil)
	root = s.claim(rootOf(exRunning), "report", "worker-2", at(2*time.Minute+time.Second), lease)
	render1, render2 := activity(exRunning, 1, "render", `{"page":1}`), activity(exRunning, 2, "render", `{"page":2}`)
	render1.Queue, render2.Queue = "reports", "reports"
	s.steps(root, at(2*time.Minute+2*time.Second), []domain.DataOp{{Kind: domain.OpAddCounter, Key: "pages", Number: 2}}, render1, render2)
	// Equal creation times: the claim order is by id, which puts page 2 first.
	child = s.claim(stepOf(exRunning, 2), "render", "worker-2", at(2*time.Minute+3*time.Second), lease)
	s.must(ports.CompleteTask(s.ctx, s.st, ports.CompleteParams{Fence: child, Result: json.RawMessage(`"page-2.pdf"`), Now: at(2*time.Minute + 9*time.Second)}), "complete render 2")
	s.claim(stepOf(exRunning, 1), "render", "worker-2", at(2*time.Minute+10*time.Second), lease)

	// pending: delayed, with a deadline, tags, priority and a key.
	runAt, deadline := at(2*time.Hour), at(3*time.Hour)
	s.create(exPending, "report", "reports", `{"month":"2030-02"}`, at(3*time.Minute), func(e *domain.Execution) {
		e.Priority, e.Tags, e.IdempotencyKey, e.ScheduledFor, e.Deadline = 5, []string{"pci"}, "monthly-2030-02", &runAt, &deadline
	})

	// cancelled before it ran.
	s.create(exCancelled, "order", "default", `null`, at(4*time.Minute), nil)
	_, _, err = s.st.CancelExecution(s.ctx, exCancelled, at(4*time.Minute+30*time.Second))
	s.must(err, "cancel")

	// timed out while running.
	end := at(6 * time.Minute)
	s.create(exTimedOut, "order", "default", `{"order":9}`, at(5*time.Minute), func(e *domain.Execution) { e.Deadline = &end })
	s.claim(rootOf(exTimedOut), "order", "worker-1", at(5*time.Minute+time.Second), lease)
	_, _, err = s.st.TimeoutExecution(s.ctx, exTimedOut, end)
	s.must(err, "time out")

	// waiting: its first worker dies and is declared dead, a live worker
	// recovers the root (a recovery, not an attempt), which runs a step
	// and parks on a sleep.
	s.create(exWaiting, "order", "default", `{"order":10}`, at(7*time.Minute), nil)
	s.claim(rootOf(exWaiting), "order", "worker-1", at(7*time.Minute+time.Second), lease)
	s.must(s.st.TouchWorker(s.ctx, "worker-1", at(7*time.Minute+30*time.Second)), "heartbeat worker-1")
	dead, err := s.st.ExpireWorkers(s.ctx, ports.ExpireWorkersParams{IDs: []string{"worker-1"}, Except: "worker-4",
		ExceptProcess: "proc-d", Now: at(8 * time.Minute)})
	s.must(err, "expire worker-1")
	if len(dead) != 1 || dead[0].Tasks != 1 {
		t.Fatalf("seed: expire worker-1 returned %+v; want it with 1 task", dead)
	}
	s.must(s.st.RegisterWorker(s.ctx, domain.WorkerInfo{ID: "worker-4", Name: "orders-1", Host: "host-b", PID: 4104,
		Process: "proc-d", Queues: []string{"default"}, Functions: []string{"charge", "order"}}, at(8*time.Minute)), "register worker-4")
	root = s.claim(rootOf(exWaiting), "order", "worker-4", at(8*time.Minute+time.Second), lease)
	s.steps(root, at(8*time.Minute+2*time.Second), nil, activity(exWaiting, 1, "charge", `{"card":"5555"}`))
	child = s.claim(stepOf(exWaiting, 1), "charge", "worker-4", at(8*time.Minute+2*time.Second), lease)
	s.must(ports.CompleteTask(s.ctx, s.st, ports.CompleteParams{Fence: child, Result: json.RawMessage(`{"receipt":"r-10"}`),
		Now: at(8*time.Minute + 3*time.Second)}), "complete charge")
	wakeAt := at(3 * time.Hour)
	s.steps(root, at(8*time.Minute+4*time.Second), nil, ports.StepSpec{ID: stepOf(exWaiting, 2), Position: 2, Kind: domain.KindSleep,
		StepName: domain.SleepStepName, ScheduledFor: &wakeAt})
	parked, err := s.st.ParkTask(s.ctx, ports.ParkParams{Fence: root, WakeAt: &wakeAt, Now: at(8*time.Minute + 5*time.Second)})
	s.must(err, "park")
	if !parked {
		t.Fatal("seed: the root of ex-waiting did not park")
	}
	// The registry's clock stands at cliNow: worker-2 and worker-4 are
	// live, worker-3 stopped, worker-1 dead since 8m.
	s.must(s.st.TouchWorker(s.ctx, "worker-2", cliNow.Add(-3*time.Second)), "heartbeat worker-2")
	s.must(s.st.TouchWorker(s.ctx, "worker-4", cliNow.Add(-1500*time.Millisecond)), "heartbeat worker-4")

	s.must(s.st.UpsertFunctions(s.ctx, []domain.FunctionInfo{
		{Name: "charge", Queue: "default", RetryPolicy: seedPolicy},
		{Name: "invoice", Queue: "default", Version: "v2", RetryPolicy: seedPolicy},
		{Name: "order", Queue: "default", RetryPolicy: seedPolicy},
		{Name: "render", Queue: "reports", RetryPolicy: seedPolicy},
		{Name: "report", Queue: "reports", Priority: 2, RetryPolicy: seedPolicy},
	}, t0), "catalogue")
}
