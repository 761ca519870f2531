package prommetrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/prommetrics"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// TestMetricsQueueAndLimitGauges scrapes the queue and flow-limit gauges
// of a real SQLite store holding limited tasks: a full concurrency key, a
// second key of the same limit, a paused queue and a rate limit with a
// start in its window. The limit series are per declared limit, not per
// key.
func TestMetricsQueueAndLimitGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := teststore.SQLite(t)
	t0 := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	ex := domain.Execution{ID: "ex-1", RootFunction: "order", RootTaskID: "root-1", Input: json.RawMessage(`1`), Queue: "default",
		CreatedAt: t0, UpdatedAt: t0}
	root := domain.Task{ID: "root-1", ExecutionID: "ex-1", Kind: domain.KindOrchestrator, StepName: "order", Input: ex.Input,
		Queue: "default", CreatedAt: t0, UpdatedAt: t0}
	if _, _, err := ports.CreateExecution(ctx, st, ex, root); err != nil {
		t.Fatal(err)
	}
	claim := func(fn string, n int, now time.Time) []ports.ClaimedTask {
		t.Helper()
		got, err := st.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w1", Functions: []string{fn}, Limit: n, Now: now, Lease: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	r := claim("order", 1, t0.Add(time.Second))
	step := func(pos int, fn, queue string) ports.StepSpec {
		return ports.StepSpec{ID: domain.StepID("ex-1", "root-1", pos), Position: pos, Kind: domain.KindActivity, StepName: fn,
			Input: json.RawMessage(`1`), Queue: queue, RetryPolicy: domain.RetryPolicy{MaxAttempts: 1}}
	}
	var specs []ports.StepSpec
	for i, key := range []string{"a", "a", "a", "b"} {
		s := step(i+1, "charge", "payments")
		s.MaxConcurrent, s.ConcurrencyKey = 2, "function:charge:"+key
		specs = append(specs, s)
	}
	mail := step(5, "mail", "emails")
	mail.RateKey, mail.RateLimit, mail.RatePer = "queue:emails:", 10, time.Minute
	specs = append(specs, mail)
	if _, err := ports.CreateSteps(ctx, st, r[0].Fence(), specs, nil, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := claim("charge", 10, t0.Add(3*time.Second)); len(got) != 3 {
		t.Fatalf("claimed %d charge steps; want 3 (2 of key a, 1 of key b)", len(got))
	}
	if got := claim("mail", 1, t0.Add(4*time.Second)); len(got) != 1 {
		t.Fatalf("claimed %d mail steps", len(got))
	}
	if _, err := st.SetQueuePaused(ctx, "payments", true, t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}

	now := t0.Add(10 * time.Second)
	m := prommetrics.New(prommetrics.Options{Store: st, Now: func() time.Time { return now }, NoRuntimeCollectors: true})
	conc := map[string]string{"kind": "concurrency", "scope": "function", "name": "charge"}
	rate := map[string]string{"kind": "rate", "scope": "queue", "name": "emails"}
	wantMetric(t, m, "stent_queue_depth", map[string]string{"queue": "payments"}, 1)
	wantMetric(t, m, "stent_queue_running", map[string]string{"queue": "payments"}, 3)
	wantMetric(t, m, "stent_queue_running", map[string]string{"queue": "default"}, 1)
	wantMetric(t, m, "stent_queue_paused", map[string]string{"queue": "payments"}, 1)
	wantMetric(t, m, "stent_limit", conc, 2)
	wantMetric(t, m, "stent_limit_groups", conc, 2)
	wantMetric(t, m, "stent_limit_groups_full", conc, 1)
	wantMetric(t, m, "stent_limit_in_use", conc, 3)
	wantMetric(t, m, "stent_limit_pending", conc, 1)
	wantMetric(t, m, "stent_limit", rate, 10)
	wantMetric(t, m, "stent_limit_in_use", rate, 1)
	wantMetric(t, m, "stent_limit_groups_full", rate, 0)

	// The exposition format as Prometheus scrapes it.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, line := range []string{
		`stent_limit_in_use{kind="concurrency",name="charge",scope="function"} 3`,
		`stent_limit_groups_full{kind="concurrency",name="charge",scope="function"} 1`,
		`stent_queue_running{queue="payments"} 3`,
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("scrape lacks %q:\n%s", line, body)
		}
	}
}
