package scenario

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// EngineCaps describes a store under the engine scenario suite.
type EngineCaps struct {
	// Name labels failures.
	Name string
	// Notifier, when set, builds the notifier of each scenario's engine
	// (registering its own cleanup); nil leaves the engine's in-process
	// default.
	Notifier func(t *testing.T) ports.Notifier
}

// StoreFactory returns a fresh, empty, migrated store for one test and
// registers its cleanup.
type StoreFactory func(t *testing.T) ports.Store

// RunEngine runs the engine scenario suite against stores from newStore:
// every scenario builds its own registry, engine and workers on a fresh
// store. The same suite runs on memstore, SQLite and PostgreSQL.
func RunEngine(t *testing.T, newStore StoreFactory, caps EngineCaps) {
	if caps.Notifier != nil {
		base := newStore
		newStore = func(t *testing.T) ports.Store {
			return notifiedStore{Store: base(t), notifier: caps.Notifier(t)}
		}
	}
	for _, group := range engineGroups {
		t.Run(group.name, func(t *testing.T) { group.run(t, newStore) })
	}
}

// engineGroups are the scenario groups of RunEngine, in order: the first
// level of its subtest names. docs/store-adapters.md names each (checked
// by TestStoreAdaptersDocNamesEveryArea).
var engineGroups = []struct {
	name string
	run  func(t *testing.T, newStore StoreFactory)
}{
	{"basics", engineBasics},
	{"routing", engineRouting},
	{"queue pause", engineQueues},
	{"limit usage", engineLimitUsage},
	{"singleton and debounce", engineDedupe},
	{"retries and dead letters", engineRetries},
	{"idempotency and cache", engineIdempotency},
	{"waits and cancellation", engineWaits},
	{"signals", engineSignals},
	{"fan-out", engineFanOut},
	{"sleep and deadlines", engineSleep},
	{"data", engineData},
	{"workers", engineWorkers},
	{"checkpoints", engineCheckpoints},
	{"suspension", engineSuspension},
	{"recovery and adoption", engineRecovery},
	{"fixes (045)", engineFixes},
	{"patch markers", enginePatches},
	{"function versions", engineVersions},
	{"fork and reset", engineRepair},
	{"replay against stored runs", engineReplay},
}

// GroupNames lists the scenario groups RunEngine runs, in order.
func GroupNames() []string {
	names := make([]string, len(engineGroups))
	for i, g := range engineGroups {
		names[i] = g.name
	}
	return names
}

// notifiedStore carries EngineCaps.Notifier's notifier to newHarness
// through the StoreFactory every scenario already receives; newHarness
// unwraps it, so the engine sees the store itself.
type notifiedStore struct {
	ports.Store
	notifier ports.Notifier
}

// harness is one engine on one store, with helpers to start workers.
type harness struct {
	t        *testing.T
	store    ports.Store
	notifier ports.Notifier
	reg      *app.Registry
	eng      *app.Engine
	clock    ports.Clock
	cfg      app.Config
	metrics  app.Metrics
}

type harnessOption func(*harness)

// withClock uses c (a fake clock) instead of the wall clock.
func withClock(c ports.Clock) harnessOption { return func(h *harness) { h.clock = c } }

// withMetrics installs metrics hooks.
func withMetrics(m app.Metrics) harnessOption { return func(h *harness) { h.metrics = m } }

// withConfig sets the engine config.
func withConfig(c app.Config) harnessOption { return func(h *harness) { h.cfg = c } }

// testTimeout bounds every wait of the suite so a broken engine fails the
// test instead of hanging it.
const testTimeout = 30 * time.Second

func newHarness(t *testing.T, newStore StoreFactory, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, store: newStore(t), reg: app.NewRegistry(),
		cfg: app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond}}
	if ns, ok := h.store.(notifiedStore); ok {
		h.store, h.notifier = ns.Store, ns.notifier
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// engine builds the engine once the functions are registered.
func (h *harness) engine() *app.Engine {
	h.t.Helper()
	if h.eng != nil {
		return h.eng
	}
	eng, err := app.New(app.Deps{Store: h.store, Notifier: h.notifier, Registry: h.reg, Clock: h.clock, Metrics: h.metrics}, h.cfg)
	if err != nil {
		h.t.Fatalf("app.New: %v", err)
	}
	h.t.Cleanup(func() { _ = eng.Close() })
	h.eng = eng
	return eng
}

// worker starts a worker and stops it (hard stop) at cleanup.
func (h *harness) worker(opts app.WorkerOptions) *app.Worker {
	h.t.Helper()
	eng := h.engine()
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	if opts.PollIntervalMax == 0 {
		opts.PollIntervalMax = 100 * time.Millisecond
	}
	if opts.HeartbeatInterval == 0 && opts.LeaseDuration == 0 {
		opts.HeartbeatInterval = 100 * time.Millisecond
	}
	w, err := eng.NewWorker(opts)
	if err != nil {
		h.t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(testTimeout):
			h.t.Errorf("worker %s did not stop", w.ID())
		}
	})
	select {
	case <-w.Ready():
	case <-time.After(testTimeout):
		h.t.Fatalf("worker never became ready")
	}
	return w
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	h.t.Cleanup(cancel)
	return ctx
}

// wait waits for an execution and fails the test on a wait error.
func (h *harness) wait(id string) domain.Result {
	h.t.Helper()
	res, err := h.engine().WaitFor(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("WaitFor(%s): %v", id, err)
	}
	return res
}

func await[I, O any](h *harness, f *app.Function[I, O], id string) (O, error) {
	h.t.Helper()
	return f.Await(h.ctx(), h.engine(), id)
}

func dispatch[I, O any](h *harness, f *app.Function[I, O], in I, opts ...app.DispatchOption) string {
	h.t.Helper()
	id, err := f.Dispatch(h.ctx(), h.engine(), in, opts...)
	if err != nil {
		h.t.Fatalf("Dispatch %s: %v", f.Name(), err)
	}
	return id
}

// eventually polls cond every few milliseconds until it holds or the test
// times out. It is for observing state another goroutine or process
// writes to the store, where no channel exists to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rootState returns the state of an execution's root task.
func rootState(h *harness, id string) domain.TaskState {
	h.t.Helper()
	ex, err := h.store.GetExecution(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("GetExecution(%s): %v", id, err)
	}
	root, err := h.store.GetTask(h.ctx(), ex.RootTaskID)
	if err != nil {
		h.t.Fatalf("GetTask(%s): %v", ex.RootTaskID, err)
	}
	return root.State
}

// counter is a concurrency-safe side-effect counter.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
	return c.n[k]
}

// snapshot returns a copy of the counts.
func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// metricsSpy records hook calls on channels tests can wait on.
type metricsSpy struct {
	app.NopMetrics
	failed chan app.TaskInfo
}

func (m *metricsSpy) TaskFailed(t app.TaskInfo, _ string, retrying bool, _ time.Duration) {
	if retrying {
		select {
		case m.failed <- t:
		default:
		}
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v (%T) does not match %v", err, err, target)
	}
}
