package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Deps are the engine's collaborators. Store and Registry are required; a
// nil Notifier gets an in-process LocalNotifier, a nil Clock the UTC wall
// clock, a nil Logger discards, nil Metrics are NopMetrics.
type Deps struct {
	Store    ports.Store
	Notifier ports.Notifier
	Clock    ports.Clock
	Logger   *slog.Logger
	Registry *Registry
	Metrics  Metrics
	// TracerProvider, when set, traces dispatches ("stent.dispatch <fn>")
	// and task runs ("stent.execute <fn>"), linked across processes by the
	// W3C trace context stored on each task. nil: no tracing.
	TracerProvider trace.TracerProvider
	// Rand is the random source for retry jitter, uniform in [0,1); nil
	// uses math/rand/v2.
	Rand func() float64
}

// Config tunes the engine. The zero value works.
type Config struct {
	// MaxPayloadBytes bounds encoded inputs, results and signal payloads;
	// default 1 MiB.
	MaxPayloadBytes int
	// PollInterval is the first polling interval of a wait (the safety net
	// under notifications); default 100ms. It doubles up to PollIntervalMax
	// (default 5s) while nothing changes.
	PollInterval    time.Duration
	PollIntervalMax time.Duration
	// CompletionBatch caps how many task completions are written in one
	// store transaction; default 1024.
	CompletionBatch int
	// CompletionWriters is how many completion batches may be written at
	// once; default 1. More help a store that commits in parallel on a
	// machine with cores to spare (PostgreSQL); SQLite serialises them.
	CompletionWriters int
	// StepBatch caps how many tasks' step creations are written in one
	// store transaction; default 512.
	StepBatch int
	// StepWriters is how many step batches may be written at once;
	// default 2.
	StepWriters int
	// NoInlineSteps disables running eligible child calls inline in the
	// parent's goroutine (see Function.Call).
	NoInlineSteps bool
	// ParkAfter is how long a workflow blocked on a sleep, a signal or
	// children it awaits stays in memory before it parks: its goroutine
	// ends, its slot and lease are released, its task is stored as
	// waiting, and any worker resumes it by replay once the wait is over.
	// A sleep longer than ParkAfter parks at once. Default 250ms; a
	// negative value keeps every wait in memory (no parking).
	ParkAfter time.Duration
}

// DefaultParkAfter is the default Config.ParkAfter.
const DefaultParkAfter = 250 * time.Millisecond

// DefaultMaxPayloadBytes is the default payload limit (1 MiB).
const DefaultMaxPayloadBytes = 1 << 20

func (c Config) withDefaults() Config {
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.PollIntervalMax <= 0 {
		c.PollIntervalMax = 5 * time.Second
	}
	if c.PollIntervalMax < c.PollInterval {
		c.PollIntervalMax = c.PollInterval
	}
	if c.CompletionBatch <= 0 {
		c.CompletionBatch = 1024
	}
	if c.CompletionWriters <= 0 {
		c.CompletionWriters = 1
	}
	if c.StepBatch <= 0 {
		c.StepBatch = 512
	}
	if c.StepWriters <= 0 {
		c.StepWriters = 2
	}
	if c.ParkAfter == 0 {
		c.ParkAfter = DefaultParkAfter
	}
	return c
}

// Engine runs durable functions: dispatch, waits, workers, signals,
// cancellation, dead letters. It is safe for concurrent use.
type Engine struct {
	store    ports.Store
	notifier ports.Notifier
	ownNotif bool
	clock    ports.Clock
	log      *slog.Logger
	reg      *Registry
	metrics  Metrics
	// workerMetrics is Deps.Metrics's optional WorkerMetrics (panics
	// recovered), or nil.
	workerMetrics func(workerID string, tasks int)
	tracing       tracing
	cfg           Config

	rndMu sync.Mutex
	rnd   func() float64

	completer *completer
	steps     *stepWriter
	due       dueHint

	workersMu sync.Mutex
	workers   []*Worker

	notifyFailed atomic.Bool // a notifier failure was logged already
	closed       atomic.Bool
	bgCancel     context.CancelFunc
	bgDone       sync.WaitGroup
}

// New builds an engine. It returns the registry's registration errors, if
// any, and an error for a missing Store or Registry. It does not touch the
// store, so it succeeds while the database is down.
func New(d Deps, cfg Config) (*Engine, error) {
	if d.Store == nil {
		return nil, domain.InvalidArgument("app.New: Deps.Store is nil")
	}
	if d.Registry == nil {
		return nil, domain.InvalidArgument("app.New: Deps.Registry is nil")
	}
	if err := d.Registry.Err(); err != nil {
		return nil, err
	}
	e := &Engine{
		store: d.Store, notifier: d.Notifier, clock: d.Clock, log: d.Logger,
		reg: d.Registry, metrics: d.Metrics, tracing: newTracing(d.TracerProvider), cfg: cfg.withDefaults(), rnd: d.Rand,
	}
	if e.notifier == nil {
		e.notifier, e.ownNotif = NewLocalNotifier(), true
	}
	if e.clock == nil {
		e.clock = systemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.metrics == nil {
		e.metrics = NopMetrics{}
	} else {
		sm := safeMetrics{m: e.metrics} // user hooks may panic
		e.metrics = sm
		if _, ok := d.Metrics.(WorkerMetrics); ok {
			e.workerMetrics = sm.workerDeclaredDead
		}
	}
	if e.rnd == nil {
		e.rnd = rand.Float64
	}
	bg, cancel := context.WithCancel(context.Background())
	e.bgCancel = cancel
	e.completer = newCompleter(e)
	e.steps = newStepWriter(e)
	for range e.cfg.StepWriters {
		e.bgDone.Add(1)
		go func() {
			defer e.bgDone.Done()
			e.steps.run(bg)
		}()
	}
	for range e.cfg.CompletionWriters {
		e.bgDone.Add(1)
		go func() {
			defer e.bgDone.Done()
			e.completer.run(bg)
		}()
	}
	return e, nil
}

// Close stops the engine's background work. It does not close the store or
// a notifier passed in Deps (their owner does); an in-process notifier the
// engine created is closed. Workers should be drained first. Idempotent.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.bgCancel()
	e.bgDone.Wait()
	if e.ownNotif {
		return e.notifier.Close()
	}
	return nil
}

// Registry returns the engine's registry.
func (e *Engine) Registry() *Registry { return e.reg }

// Store returns the engine's store.
func (e *Engine) Store() ports.Store { return e.store }

// Clock returns the engine's clock.
func (e *Engine) Clock() ports.Clock { return e.clock }

func (e *Engine) now() time.Time { return domain.NormalizeTime(e.clock.Now()) }

func (e *Engine) random() float64 {
	e.rndMu.Lock()
	defer e.rndMu.Unlock()
	return e.rnd()
}

func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return fmt.Errorf("stent: engine: %w", ErrClosed)
	}
	return nil
}

// publish sends a hint after a commit. A failure is logged once (until the
// notifier works again) and never fails the caller.
func (e *Engine) publish(ctx context.Context, evs ...domain.Event) {
	for _, ev := range evs {
		ev.V = domain.EventVersion
		if ev.At.IsZero() {
			ev.At = e.now()
		}
		if err := e.notifier.Publish(context.WithoutCancel(ctx), ev); err != nil {
			if !e.notifyFailed.Swap(true) && !errors.Is(err, ErrClosed) {
				e.log.WarnContext(ctx, "notifier publish failed; waiters fall back to polling", "error", err)
			}
			continue
		}
		e.notifyFailed.Store(false)
	}
}

// subscribe subscribes to topics; on failure it logs once and returns a
// nil subscription, and the caller polls.
func (e *Engine) subscribe(ctx context.Context, topics ...domain.Topic) ports.Subscription {
	sub, err := e.notifier.Subscribe(ctx, topics...)
	if err != nil {
		if !e.notifyFailed.Swap(true) && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
			e.log.WarnContext(ctx, "notifier subscribe failed; polling instead", "error", err)
		}
		return nil
	}
	return sub
}

func readyEvent(queue, function string) domain.Event {
	return domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, Queue: queue, Function: function}
}

func taskEvent(t domain.Task) domain.Event {
	return domain.Event{Kind: domain.EventTask, Topic: domain.TaskTopic(t.ID), ID: t.ID,
		ExecutionID: t.ExecutionID, State: string(t.State), Queue: t.Queue, Function: t.StepName}
}

func executionEvent(id string, state domain.ExecutionState) domain.Event {
	return domain.Event{Kind: domain.EventExecution, Topic: domain.ExecutionTopic(id), ID: id,
		ExecutionID: id, State: string(state)}
}

func cancelEvent(id string) domain.Event {
	return domain.Event{Kind: domain.EventCancel, Topic: domain.TopicCancel, ID: id, ExecutionID: id}
}

// systemClock is the default Clock: the UTC wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

func (systemClock) NewTimer(d time.Duration) ports.Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
