package pgxstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// statements records the SQL every connection of a pool sends.
type statements struct {
	mu  sync.Mutex
	sql []string
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	s.sql = append(s.sql, strings.Fields(d.SQL)[0])
	s.mu.Unlock()
	return ctx
}

func (*statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the first word of each statement sent since the last take.
func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sql
	s.sql = nil
	return out
}

// poolStore opens a store in a schema of its own on a pool that
// configure adjusts first.
func poolStore(t *testing.T, configure func(*pgxpool.Config)) (*pgxstore.Store, *pgxpool.Pool) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: teststore.NewSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, pool
}

// tracedStore opens a store in a schema of its own on a pool whose
// statements trace records.
func tracedStore(t *testing.T) (*pgxstore.Store, *statements) {
	t.Helper()
	trace := &statements{}
	s, _ := poolStore(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = trace })
	return s, trace
}

// rootJob is an execution of fn with id and its root task, created at now.
func rootJob(id, fn string, now time.Time) (domain.Execution, domain.Task) {
	return domain.Execution{ID: id, RootFunction: fn, RootTaskID: id + "/root", CreatedAt: now},
		domain.Task{ID: id + "/root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: fn, CreatedAt: now}
}

// The latency path of a job (issue 15, W4 and W8): a dispatch and the
// completion of a root task without steps are each one statement, with no
// BEGIN or COMMIT around it, when the engine hints Lone. A completion with
// more to write (a root with a step here) and a lost lease take the
// transaction as before, and an unhinted completion takes only that.
func TestAJobsDispatchAndCompletionAreOneStatementEach(t *testing.T) {
	t.Parallel()
	s, trace := tracedStore(t)
	ctx := t.Context()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dispatch := func(id, fn string) {
		t.Helper()
		exec, root := rootJob(id, fn, now)
		trace.take()
		if _, created, err := ports.CreateExecution(ctx, s, exec, root); err != nil || !created {
			t.Fatalf("dispatch %s: %v %v", id, created, err)
		}
		if got := trace.take(); len(got) != 1 || got[0] != "WITH" {
			t.Fatalf("dispatch %s sent %v; want one statement", id, got)
		}
	}
	claim := func(fn string) ports.ClaimedTask {
		t.Helper()
		c, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{fn}, Limit: 1, Now: now, Lease: time.Hour})
		if err != nil || len(c) != 1 {
			t.Fatalf("claim %s: %v %v", fn, c, err)
		}
		return c[0]
	}

	dispatch("job", "job")
	job := claim("job")
	lost := job.Fence()
	lost.Token += "-stale"
	trace.take()
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: lost, Result: []byte(`0`), Now: now, Lone: true}); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("completion with a stale token: %v; want ErrLeaseLost", err)
	}
	if got := trace.take(); len(got) < 3 || got[1] != "begin" {
		t.Fatalf("a lost lease sent %v; want the one statement, then the transaction that reports it", got)
	}
	if e, _ := s.GetExecution(ctx, "job"); e.State != domain.ExecutionRunning {
		t.Fatalf("after a lost-lease completion the execution is %s; want running", e.State)
	}
	trace.take()
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: job.Fence(), Result: []byte(`42`), Now: now.Add(time.Second), Lone: true}); err != nil {
		t.Fatal(err)
	}
	if got := trace.take(); len(got) != 1 || got[0] != "WITH" {
		t.Fatalf("the job's completion sent %v; want one statement", got)
	}
	e, err := s.GetExecution(ctx, "job")
	if err != nil || e.State != domain.ExecutionCompleted || string(e.Result) != `42` || e.FinishedAt == nil || !e.FinishedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("job execution = %+v, %v; want completed with 42 at +1s", e, err)
	}
	if task, err := s.GetTask(ctx, "job/root"); err != nil || task.State != domain.TaskCompleted || task.WorkerID != "" || string(task.Result) != `42` {
		t.Fatalf("job root = %+v, %v; want completed, lease cleared, result 42", task, err)
	}

	// Without the hint a completion goes straight to the transaction: no
	// statement is spent on the one-statement path.
	dispatch("plain", "plain")
	plain := claim("plain")
	trace.take()
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: plain.Fence(), Result: []byte(`2`), Now: now}); err != nil {
		t.Fatal(err)
	}
	if got := trace.take(); len(got) == 0 || got[0] != "begin" {
		t.Fatalf("a completion without the Lone hint sent %v; want the transaction only", got)
	}

	// A root with a step, wrongly hinted Lone: its completion must also
	// cancel the live step, so after the one statement it takes the
	// transaction.
	dispatch("wf", "wf")
	wf := claim("wf")
	if _, err := ports.CreateSteps(ctx, s, wf.Fence(), []ports.StepSpec{{ID: domain.StepID("wf", wf.ID, 1), Position: 1,
		Kind: domain.KindActivity, StepName: "kid"}}, nil, now); err != nil {
		t.Fatal(err)
	}
	trace.take()
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: wf.Fence(), Result: []byte(`1`), Now: now, Lone: true}); err != nil {
		t.Fatal(err)
	}
	if got := trace.take(); len(got) < 3 || got[1] != "begin" {
		t.Fatalf("a root with a step sent %v; want the one statement, then the transaction", got)
	}
	if kid, err := s.GetTask(ctx, domain.StepID("wf", wf.ID, 1)); err != nil || kid.State != domain.TaskCancelled {
		t.Fatalf("the live step after its root completed: %+v, %v; want cancelled", kid, err)
	}
}
