package prommetrics_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/prommetrics"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// metricValue returns the value of the metric name with exactly these
// labels (counter, gauge, or a histogram's sample count), and whether it
// exists.
func metricValue(t *testing.T, m *prommetrics.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mt := range f.GetMetric() {
			if len(mt.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range mt.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return mt.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return mt.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(mt.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func wantMetric(t *testing.T, m *prommetrics.Metrics, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := metricValue(t, m, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v); want %v", name, labels, got, ok, want)
	}
}

// newEngine builds an engine that reports to m, its workers' slots
// included (what stentfx.NewEngine does for the service).
func newEngine(d app.Deps, m *prommetrics.Metrics) (*app.Engine, error) {
	d.Metrics = m
	eng, err := app.New(d, app.Config{})
	if err != nil {
		return nil, err
	}
	m.WatchWorkers(eng.Workers)
	return eng, nil
}

// countingStore counts the count queries the gauges make.
type countingStore struct {
	ports.Store
	counts atomic.Int32
}

func (c *countingStore) CountExecutionsByState(ctx context.Context) (map[domain.ExecutionState]int64, error) {
	c.counts.Add(1)
	return c.Store.CountExecutionsByState(ctx)
}

func TestMetricsCountTasksByFunctionAndQueue(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: memstore.New()}
	t.Cleanup(func() { _ = st.Close() })
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clockNow := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := prommetrics.New(prommetrics.Options{Store: st, Now: clockNow, NoRuntimeCollectors: true})

	reg := app.NewRegistry()
	ok := app.Register(reg, "m.ok", func(_ context.Context, n int) (int, error) { return n, nil })
	var flakyRuns atomic.Int32
	flaky := app.Register(reg, "m.flaky", func(_ context.Context, n int) (int, error) {
		if flakyRuns.Add(1) == 1 {
			return 0, errors.New("first attempt fails")
		}
		return n, nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		app.WithQueue("slow"))
	bad := app.Register(reg, "m.bad", func(context.Context, int) (int, error) {
		return 0, app.Permanent(errors.New("never works"))
	})
	eng, err := newEngine(app.Deps{Store: st, Registry: reg}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Serve(runCtx, app.WorkerOptions{ID: "w1", MaxConcurrency: 4, PollInterval: 5 * time.Millisecond})
	}()
	t.Cleanup(func() { stop(); <-done; _ = eng.Close() })
	if _, err := eng.PauseQueue(ctx, "parked"); err != nil {
		t.Fatal(err)
	}

	for _, d := range []struct {
		f    *app.Function[int, int]
		fail bool
	}{{ok, false}, {flaky, false}, {bad, true}} {
		id, err := d.f.Dispatch(ctx, eng, 7)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.f.Await(ctx, eng, id); (err != nil) != d.fail {
			t.Fatalf("%s: %v", d.f.Name(), err)
		}
	}

	okLabels := map[string]string{"function": "m.ok", "queue": "default"}
	wantMetric(t, m, "stent_tasks_claimed_total", okLabels, 1)
	wantMetric(t, m, "stent_tasks_completed_total", okLabels, 1)
	wantMetric(t, m, "stent_task_duration_seconds", map[string]string{"function": "m.ok", "queue": "default", "outcome": "completed"}, 1)
	flakyLabels := map[string]string{"function": "m.flaky", "queue": "slow"}
	wantMetric(t, m, "stent_tasks_claimed_total", flakyLabels, 2)
	wantMetric(t, m, "stent_tasks_failed_total", map[string]string{"function": "m.flaky", "queue": "slow", "retrying": "true"}, 1)
	wantMetric(t, m, "stent_tasks_retried_total", flakyLabels, 1)
	wantMetric(t, m, "stent_tasks_completed_total", flakyLabels, 1)
	badLabels := map[string]string{"function": "m.bad", "queue": "default"}
	wantMetric(t, m, "stent_tasks_failed_total", map[string]string{"function": "m.bad", "queue": "default", "retrying": "false"}, 1)
	wantMetric(t, m, "stent_tasks_dead_lettered_total", badLabels, 1)
	wantMetric(t, m, "stent_task_duration_seconds", map[string]string{"function": "m.bad", "queue": "default", "outcome": "failed"}, 1)

	// The gauges come from count queries, cached between scrapes.
	wantMetric(t, m, "stent_store_up", nil, 1)
	wantMetric(t, m, "stent_executions", map[string]string{"state": "completed"}, 2)
	wantMetric(t, m, "stent_executions", map[string]string{"state": "failed"}, 1)
	wantMetric(t, m, "stent_dead_letters", nil, 1)
	wantMetric(t, m, "stent_queue_paused", map[string]string{"queue": "parked"}, 1)
	if _, ok := metricValue(t, m, "stent_queue_paused", map[string]string{"queue": "slow"}); ok {
		t.Error("stent_queue_paused is reported for a queue that is not paused")
	}
	wantMetric(t, m, "stent_worker_slots", map[string]string{"worker_id": "w1"}, 4)
	wantMetric(t, m, "stent_notifier_up", nil, 1)
	queries := st.counts.Load()
	wantMetric(t, m, "stent_executions", map[string]string{"state": "completed"}, 2)
	if st.counts.Load() != queries {
		t.Errorf("a scrape within the cache lifetime ran %d more count queries", st.counts.Load()-queries)
	}
	id, err := ok.Dispatch(ctx, eng, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Await(ctx, eng, id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(prommetrics.DefaultGaugeTTL)
	mu.Unlock()
	wantMetric(t, m, "stent_executions", map[string]string{"state": "completed"}, 3)
	if st.counts.Load() != queries+1 {
		t.Errorf("%d count queries after the cache expired; want %d", st.counts.Load(), queries+1)
	}
}

func TestMetricsReportAStoreThatIsDown(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	_ = st.Close()
	m := prommetrics.New(prommetrics.Options{Store: st, NoRuntimeCollectors: true})
	wantMetric(t, m, "stent_store_up", nil, 0)
	if _, ok := metricValue(t, m, "stent_dead_letters", nil); ok {
		t.Error("stent_dead_letters is reported although the store did not answer")
	}
}

// degradedNotifier reports itself unhealthy, as Redis does when it is down.
type degradedNotifier struct{ ports.Notifier }

func (degradedNotifier) Health() error { return errors.New("redis: connection refused") }

func TestADegradedNotifierIsReported(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	n := degradedNotifier{app.NewLocalNotifier()}
	t.Cleanup(func() { _ = n.Close() })
	m := prommetrics.New(prommetrics.Options{Store: st, Notifier: n, NoRuntimeCollectors: true})
	wantMetric(t, m, "stent_notifier_up", nil, 0)
}

func TestMetricsCountWorkersDeclaredDeadAndTheirTasks(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	var gaugeClock atomic.Int64 // the gauge cache's clock, in TTLs since 2030
	m := prommetrics.New(prommetrics.Options{Store: st, NoRuntimeCollectors: true, Now: func() time.Time {
		return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(gaugeClock.Load()) * prommetrics.DefaultGaugeTTL)
	}})
	reg := app.NewRegistry()
	echo := app.Register(reg, "m.echo", func(_ context.Context, n int) (int, error) { return n, nil })
	nap := app.Register(reg, "m.nap", func(ctx context.Context, _ int) (int, error) {
		return 0, app.Sleep(ctx, time.Hour)
	})
	eng, err := newEngine(app.Deps{Store: st, Registry: reg}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A worker of another process claims a task and dies: its heartbeat
	// is an hour old.
	id, err := echo.Dispatch(ctx, eng, 7)
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-time.Hour)
	if err := st.RegisterWorker(ctx, domain.WorkerInfo{ID: "ghost", Host: "gone", PID: 1, Process: "ghost-process"}, long); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "ghost", Functions: []string{"m.echo"}, Limit: 1, Now: time.Now(), Lease: 2 * time.Hour})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("the ghost claimed %d tasks (%v); want 1", len(claimed), err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Serve(runCtx, app.WorkerOptions{ID: "w1", PollInterval: 5 * time.Millisecond,
			LivenessInterval: 20 * time.Millisecond, DeadAfter: time.Second})
	}()
	t.Cleanup(func() { stop(); <-done; _ = eng.Close() })

	if n, err := echo.Await(ctx, eng, id); err != nil || n != 7 {
		t.Fatalf("the dead worker's task: %v, %v; want it taken over and completed", n, err)
	}
	wantMetric(t, m, "stent_workers_declared_dead_total", nil, 1)
	wantMetric(t, m, "stent_tasks_adopted_total", nil, 1)

	// A parked workflow shows in the task gauge as waiting.
	napID, err := nap.Dispatch(ctx, eng, 0)
	if err != nil {
		t.Fatal(err)
	}
	view, err := eng.StateOf(ctx, napID)
	if err != nil {
		t.Fatal(err)
	}
	for {
		tk, err := eng.Task(ctx, view.RootTaskID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == domain.TaskWaiting {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the sleeping workflow never parked (%s)", tk.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	gaugeClock.Add(1) // the cached gauges expire
	wantMetric(t, m, "stent_tasks", map[string]string{"state": "waiting", "queue": "default", "kind": "orchestrator"}, 1)
	wantMetric(t, m, "stent_workers", map[string]string{"state": "live"}, 1)
	wantMetric(t, m, "stent_workers", map[string]string{"state": "dead"}, 1)
	wantMetric(t, m, "stent_workers", map[string]string{"state": "stopped"}, 0)
}

func TestWorkerDeclaredDeadAddsItsTasks(t *testing.T) {
	t.Parallel()
	m := prommetrics.New(prommetrics.Options{NoRuntimeCollectors: true})
	m.WorkerDeclaredDead("a", 3)
	m.WorkerDeclaredDead("b", 0)
	wantMetric(t, m, "stent_workers_declared_dead_total", nil, 2)
	wantMetric(t, m, "stent_tasks_adopted_total", nil, 3)
	if _, ok := metricValue(t, m, "stent_workers", map[string]string{"state": "live"}); ok {
		t.Error("stent_workers is reported without a store")
	}
}
