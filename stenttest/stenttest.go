// Package stenttest runs durable functions in users' own tests: an engine
// and a worker on an in-memory store (or a SQLite file), a virtual clock
// that skips ahead whenever every run is parked on a timer, helpers to
// dispatch, await, signal and stub functions, and the recorded steps of an
// execution for assertions.
//
//	env := stenttest.New(t, reg)
//	out, err := stenttest.Run(env, monthly, "acme") // sleeps 30 days in milliseconds
//
// Everything New starts is stopped by t.Cleanup.
package stenttest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// DefaultStart is the virtual clock's default start time.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultTimeout bounds each helper's wait (in wall time); WithTimeout
// changes it.
const DefaultTimeout = 30 * time.Second

// Option configures New.
type Option func(*options)

type options struct {
	sqlite  bool
	store   ports.Store
	start   time.Time
	timeout time.Duration
	noSkip  bool
	cfg     app.Config
	worker  app.WorkerOptions
}

// WithSQLite runs the engine on a SQLite file in t.TempDir() instead of
// the in-memory store.
func WithSQLite() Option { return func(o *options) { o.sqlite = true } }

// WithStore runs the engine on store instead of the in-memory store, for
// example a PostgreSQL store (pgxstore) in a schema of its own: the same
// tests then run on the store that production uses. The store must be
// empty and used by this Env only (the time skipping reads every task in
// it); New migrates it when it is a ports.Migrator and does not close it:
// the caller owns it. WithStore wins over WithSQLite.
func WithStore(store ports.Store) Option { return func(o *options) { o.store = store } }

// WithStart sets the virtual clock's start time (default DefaultStart).
func WithStart(t time.Time) Option { return func(o *options) { o.start = t } }

// WithTimeout bounds, in wall time, how long each helper waits for an
// execution (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithoutTimeSkipping keeps the virtual clock still unless the test moves
// it (Env.Clock().Advance).
func WithoutTimeSkipping() Option { return func(o *options) { o.noSkip = true } }

// WithConfig sets the engine's configuration. Poll intervals default to a
// few milliseconds and NoInlineSteps is always set (so stubs apply to
// every call).
func WithConfig(c app.Config) Option { return func(o *options) { o.cfg = c } }

// WithWorkerOptions sets the worker's options (poll intervals default to a
// few milliseconds).
func WithWorkerOptions(w app.WorkerOptions) Option { return func(o *options) { o.worker = w } }

// T is the part of testing.TB an Env uses; *testing.T and *testing.B
// satisfy it.
type T interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Env is a test engine: a store, an engine, a worker and a virtual clock.
// Its methods fail the test (t.Fatal) on unexpected errors, so call them
// from the test's goroutine.
type Env struct {
	t       T
	store   ports.Store
	clock   *clock.Fake
	reg     *app.Registry
	eng     *app.Engine
	worker  *app.Worker
	timeout time.Duration

	mu      sync.Mutex
	skipped time.Duration
}

// New builds an Env over a copy of reg (stubs never touch reg) and starts
// its worker; t.Cleanup stops everything. Registration errors fail the
// test.
func New(t T, reg *app.Registry, opts ...Option) *Env {
	t.Helper()
	o := options{start: DefaultStart, timeout: DefaultTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	env := &Env{t: t, clock: clock.NewFake(o.start), reg: reg.Clone(), timeout: o.timeout}
	switch {
	case o.store != nil:
		env.store = o.store
	case o.sqlite:
		st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "stent.db")})
		if err != nil {
			t.Fatalf("stenttest: opening SQLite: %v", err)
		}
		env.store = st
		t.Cleanup(func() { _ = st.Close() })
	default:
		st := memstore.New()
		env.store = st
		t.Cleanup(func() { _ = st.Close() })
	}
	if m, ok := env.store.(ports.Migrator); ok {
		if err := m.Migrate(context.Background()); err != nil {
			t.Fatalf("stenttest: migrating the store: %v", err)
		}
	}
	cfg := o.cfg
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.PollIntervalMax == 0 {
		cfg.PollIntervalMax = 20 * time.Millisecond
	}
	cfg.NoInlineSteps = true
	eng, err := app.New(app.Deps{Store: env.store, Registry: env.reg, Clock: env.clock}, cfg)
	if err != nil {
		t.Fatalf("stenttest: %v", err)
	}
	env.eng = eng
	t.Cleanup(func() { _ = eng.Close() })

	wo := o.worker
	if wo.PollInterval == 0 {
		wo.PollInterval = 2 * time.Millisecond
	}
	if wo.PollIntervalMax == 0 {
		wo.PollIntervalMax = 10 * time.Millisecond
	}
	w, err := eng.NewWorker(wo)
	if err != nil {
		t.Fatalf("stenttest: NewWorker: %v", err)
	}
	env.worker = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var skipDone chan struct{}
	if !o.noSkip {
		skipDone = make(chan struct{})
		go func() {
			defer close(skipDone)
			env.skipLoop(ctx)
		}()
	}
	t.Cleanup(func() {
		cancel()
		if skipDone != nil {
			<-skipDone
		}
		select {
		case <-done:
		case <-time.After(o.timeout):
			t.Errorf("stenttest: worker %s did not stop", w.ID())
		}
	})
	select {
	case <-w.Ready():
	case <-done:
		t.Fatalf("stenttest: the worker stopped before it was ready")
	case <-time.After(o.timeout):
		t.Fatalf("stenttest: the worker never became ready")
	}
	return env
}

// Engine returns the engine, for the API the helpers do not cover.
func (e *Env) Engine() *app.Engine { return e.eng }

// Store returns the store.
func (e *Env) Store() ports.Store { return e.store }

// Clock returns the virtual clock (the engine's Deps.Clock).
func (e *Env) Clock() *clock.Fake { return e.clock }

// Now returns the virtual time.
func (e *Env) Now() time.Time { return e.clock.Now() }

// Skipped returns how far the time skipping has moved the virtual clock.
func (e *Env) Skipped() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.skipped
}

// Context returns a context bounded by the Env's timeout, cancelled at
// cleanup.
func (e *Env) Context() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	e.t.Cleanup(cancel)
	return ctx
}

// Named is a registered function handle (*app.Function[I, O]).
type Named interface{ Name() string }

// Dispatch starts an execution of fn (a handle from the registry passed
// to New) with input, encoded as JSON, and returns its id.
func (e *Env) Dispatch(fn Named, input any, opts ...app.DispatchOption) string {
	e.t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		e.t.Fatalf("stenttest: dispatch %s: encoding the input: %v", fn.Name(), err)
	}
	id, err := e.eng.DispatchByName(e.Context(), fn.Name(), raw, opts...)
	if err != nil {
		e.t.Fatalf("stenttest: dispatch %s: %v", fn.Name(), err)
	}
	return id
}

// Await waits for execution id of fn and returns its result or error.
func Await[I, O any](e *Env, fn *app.Function[I, O], id string) (O, error) {
	e.t.Helper()
	return fn.Await(e.Context(), e.eng, id)
}

// Run dispatches fn with input and waits for its result; a dispatch error
// is returned as is.
func Run[I, O any](e *Env, fn *app.Function[I, O], in I, opts ...app.DispatchOption) (O, error) {
	e.t.Helper()
	id, err := fn.Dispatch(e.Context(), e.eng, in, opts...)
	if err != nil {
		var zero O
		return zero, err
	}
	return Await(e, fn, id)
}

// Result waits for execution id to end and returns its result.
func (e *Env) Result(id string) domain.Result {
	e.t.Helper()
	res, err := e.eng.WaitFor(e.Context(), id)
	if err != nil {
		e.t.Fatalf("stenttest: waiting for %s: %v", id, err)
	}
	return res
}

// Signal sends signal name with payload (encoded as JSON) to execution id.
func (e *Env) Signal(id, name string, payload any) {
	e.t.Helper()
	if err := e.eng.SendSignal(e.Context(), id, name, payload); err != nil {
		e.t.Fatalf("stenttest: signal %q to %s: %v", name, id, err)
	}
}

// Steps returns the recorded steps of execution id (the root task and
// every step below it, as ListProgress reports them).
func (e *Env) Steps(id string) []domain.ProgressEntry {
	e.t.Helper()
	steps, err := e.store.ListProgress(e.Context(), id)
	if err != nil {
		e.t.Fatalf("stenttest: steps of %s: %v", id, err)
	}
	return steps
}

// StepNames returns the names of the completed child steps of execution id
// (activity calls, "sleep", signal waits), in call order; handy for
// assertions.
func (e *Env) StepNames(id string) []string {
	e.t.Helper()
	var names []string
	for _, s := range e.Steps(id) {
		if s.ParentID != "" && s.State == domain.TaskCompleted {
			names = append(names, s.Step)
		}
	}
	return names
}

// Stub replaces the body of fn for this Env: every run of fn the worker
// claims from then on calls body instead. The registry passed to New is
// not changed.
func Stub[I, O any](e *Env, fn *app.Function[I, O], body func(context.Context, I) (O, error)) {
	e.t.Helper()
	if err := app.Override(e.reg, fn, body); err != nil {
		e.t.Fatalf("stenttest: stub %s: %v", fn.Name(), err)
	}
}

// skipLoop moves the virtual clock to the next timer whenever no run can
// make progress without it: no claimable task is running or due, and a
// parked task or a delayed one waits for a later time. The idle state must
// be seen twice in a row, a few milliseconds apart, before the clock moves.
func (e *Env) skipLoop(ctx context.Context) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		at, ok := e.nextTimer(ctx)
		if !ok {
			last = time.Time{}
			continue
		}
		if !at.Equal(last) {
			last = at // confirm on the next tick
			continue
		}
		last = time.Time{}
		now := e.clock.Now()
		if at.After(now) {
			e.clock.Set(at)
			e.mu.Lock()
			e.skipped += at.Sub(now)
			e.mu.Unlock()
		}
	}
}

// nextTimer reports the time to skip to, or false when some run can make
// progress now (or nothing waits on a timer).
func (e *Env) nextTimer(ctx context.Context) (time.Time, bool) {
	now := e.clock.Now()
	claimable := []domain.TaskKind{domain.KindOrchestrator, domain.KindActivity}
	running, err := e.store.ListTasks(ctx, ports.TaskFilter{Kinds: claimable, States: []domain.TaskState{domain.TaskRunning}, Limit: 1})
	if err != nil || len(running) > 0 {
		return time.Time{}, false
	}
	var next time.Time
	pending, err := e.store.ListTasks(ctx, ports.TaskFilter{Kinds: claimable, States: []domain.TaskState{domain.TaskPending}, Limit: 1000})
	if err != nil {
		return time.Time{}, false
	}
	for _, p := range pending {
		if p.ScheduledFor == nil || !p.ScheduledFor.After(now) {
			return time.Time{}, false
		}
		if next.IsZero() || p.ScheduledFor.Before(next) {
			next = *p.ScheduledFor
		}
	}
	at, ok, err := e.store.NextWake(ctx, ports.ClaimParams{WorkerID: e.worker.ID(), Queues: e.queues(),
		Functions: e.reg.Names(), Limit: 1, Now: now, Lease: time.Minute})
	if err != nil {
		return time.Time{}, false
	}
	if ok {
		if !at.After(now) {
			return time.Time{}, false
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero()
}

func (e *Env) queues() []string {
	seen := map[string]bool{}
	var qs []string
	for _, fi := range e.reg.Infos() {
		if !seen[fi.Queue] {
			seen[fi.Queue] = true
			qs = append(qs, fi.Queue)
		}
	}
	return qs
}
