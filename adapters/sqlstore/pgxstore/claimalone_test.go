package pgxstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// A claim whose candidates are all fresh tasks without limits is one
// statement, with no BEGIN or COMMIT (issue 15, W1 and W4): it claims the
// tasks in claim order and starts their roots' executions. A claim that
// meets a limited task or an expired lease takes the transaction, which
// decides as before; the claims after it take the transaction until one
// meets only simple candidates again.
func TestASimpleClaimIsOneStatement(t *testing.T) {
	t.Parallel()
	s, trace := tracedStore(t)
	ctx := t.Context()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dispatch := func(id, fn string, maxConcurrent, priority int) {
		t.Helper()
		exec, root := rootJob(id, fn, now)
		root.MaxConcurrent, root.Priority = maxConcurrent, priority
		if _, created, err := ports.CreateExecution(ctx, s, exec, root); err != nil || !created {
			t.Fatalf("dispatch %s: %v %v", id, created, err)
		}
	}
	claim := func(at time.Time, lease time.Duration, fns ...string) ([]ports.ClaimedTask, []string) {
		t.Helper()
		trace.take()
		c, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: fns, Limit: 10, Now: at, Lease: lease})
		if err != nil {
			t.Fatalf("claim %v: %v", fns, err)
		}
		return c, trace.take()
	}
	ids := func(c []ports.ClaimedTask) []string {
		var out []string
		for _, x := range c {
			out = append(out, x.Task.ID)
		}
		return out
	}
	one := func(what string, sent []string) {
		t.Helper()
		if len(sent) != 1 || sent[0] != "WITH" {
			t.Fatalf("%s sent %v; want one statement", what, sent)
		}
	}
	transaction := func(what string, sent []string) {
		t.Helper()
		if !slices.Contains(sent, "begin") {
			t.Fatalf("%s sent %v; want the claim transaction", what, sent)
		}
	}

	dispatch("a", "job", 0, 0)
	dispatch("b", "job", 0, 5)
	got, sent := claim(now, time.Hour, "job")
	one("a claim of simple tasks", sent)
	if want := []string{"b/root", "a/root"}; !slices.Equal(ids(got), want) {
		t.Fatalf("claimed %v; want %v (priority first)", ids(got), want)
	}
	for _, c := range got {
		if !c.FirstClaim || c.Task.State != domain.TaskRunning || c.Task.Attempt != 1 || c.Task.WorkerID != "w" {
			t.Fatalf("claimed %+v; want a first claim, running, attempt 1, worker w", c.Task)
		}
		if e, err := s.GetExecution(ctx, c.Task.ExecutionID); err != nil || e.State != domain.ExecutionRunning || e.StartedAt == nil {
			t.Fatalf("execution of %s: %+v, %v; want running and started", c.Task.ID, e, err)
		}
	}
	if got, sent := claim(now, time.Hour, "job"); len(got) != 0 || len(sent) != 1 {
		t.Fatalf("a claim with nothing to take claimed %v and sent %v; want nothing, in one statement", ids(got), sent)
	}

	// A limited task: the statement declines and the transaction claims it.
	dispatch("lim", "limited", 1, 0)
	got, sent = claim(now, time.Hour, "limited")
	transaction("a claim that meets a limited task", sent)
	if sent[0] != "WITH" || !slices.Equal(ids(got), []string{"lim/root"}) {
		t.Fatalf("claimed %v with %v; want lim/root after the declined statement", ids(got), sent)
	}
	if e, err := s.GetExecution(ctx, "lim"); err != nil || e.State != domain.ExecutionRunning {
		t.Fatalf("execution lim: %+v, %v; want running", e, err)
	}
	// The next claim goes straight to the transaction; its read meets
	// only simple tasks, so the one after is one statement again.
	dispatch("c", "job", 0, 0)
	got, sent = claim(now, time.Hour, "job")
	if sent[0] != "begin" || !slices.Equal(ids(got), []string{"c/root"}) {
		t.Fatalf("the claim after a declined one claimed %v with %v; want c/root in the transaction alone", ids(got), sent)
	}
	dispatch("d", "job", 0, 0)
	got, sent = claim(now, time.Second, "job")
	one("a claim after the transaction met simple tasks", sent)
	if !slices.Equal(ids(got), []string{"d/root"}) {
		t.Fatalf("claimed %v; want d/root", ids(got))
	}

	// d's lease expires: the reclaim needs the transaction, which counts a
	// recovery and keeps the attempt.
	later := now.Add(time.Minute)
	got, sent = claim(later, time.Hour, "job")
	transaction("a claim that meets an expired lease", sent)
	if len(got) != 1 || got[0].Task.ID != "d/root" || got[0].FirstClaim || got[0].Task.Recoveries != 1 || got[0].Task.Attempt != 1 {
		t.Fatalf("reclaim: %+v; want d/root, not a first claim, 1 recovery, attempt 1", got)
	}
}

// A worker's claims reuse the server's cached generic plan instead of
// planning the statement on every claim (about 1 ms of a job's claim,
// features/089): the candidate reads write their LIMIT into the statement,
// since with a bound LIMIT the server judged the generic plan dearer than
// a custom one and planned every run again.
func TestClaimsKeepACachedPlan(t *testing.T) {
	t.Parallel()
	// One connection: its pg_prepared_statements holds every statement the
	// store sent.
	s, pool := poolStore(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 1 })
	ctx := t.Context()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// A backlog: with a bound LIMIT, the generic plan's guess of a tenth of
	// the backlog made it the dearer one.
	const backlog, jobs = 2000, 20
	for i := range backlog {
		exec, root := rootJob(fmt.Sprint("job", i), "job", now)
		if _, _, err := ports.CreateExecution(ctx, s, exec, root); err != nil {
			t.Fatal(err)
		}
	}
	for range jobs {
		got, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"job"}, Limit: 1, Now: now, Lease: time.Hour})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %v, %v", got, err)
		}
	}
	var custom, generic int64
	if err := pool.QueryRow(ctx, `SELECT COALESCE(SUM(custom_plans), 0), COALESCE(SUM(generic_plans), 0) FROM pg_prepared_statements
 WHERE statement LIKE 'WITH cand AS%'`).Scan(&custom, &generic); err != nil {
		t.Fatal(err)
	}
	// The server tries five custom plans before it weighs the generic one.
	if custom+generic != jobs || generic < jobs-5 {
		t.Fatalf("%d claims were planned %d times (custom) and ran the cached plan %d times; want at least %d cached", jobs, custom, generic, jobs-5)
	}
}
