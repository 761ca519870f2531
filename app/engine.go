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

	"github.com/stenthq/stent/app/internal/batch"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/app/internal/wait"
	"github.com/stenthq/stent/app/internal/worker"
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
	// ScheduleInterval is how often each worker looks for due cron
	// schedules (paced on the wall clock; due ticks are read on
	// Deps.Clock); default 1s, negative disables the
	// scheduler (FireDueSchedules still works).
	ScheduleInterval time.Duration
	// ScheduleMisfireGrace is how late a tick may be found due and still
	// fire under CatchUpSkip; default 1 minute.
	ScheduleMisfireGrace time.Duration
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
	if c.ScheduleInterval == 0 {
		c.ScheduleInterval = DefaultScheduleInterval
	}
	if c.ScheduleMisfireGrace <= 0 {
		c.ScheduleMisfireGrace = DefaultScheduleMisfireGrace
	}
	return c
}

// Engine runs durable functions: dispatch, waits, workers, signals,
// cancellation, dead letters. It is safe for concurrent use.
type Engine struct {
	store    ports.Store
	notifier ports.Notifier
	ownNotif bool
	// clock is Deps.Clock: stored times, durable sleeps, deadlines. pace
	// is the wall clock the engine paces itself with: poll timers,
	// heartbeats, claim cooldown, write backoff.
	clock   ports.Clock
	pace    ports.Clock
	log     *slog.Logger
	reg     *Registry
	metrics Metrics
	tracing tracing
	cfg     Config

	rndMu sync.Mutex
	rnd   func() float64

	hints *hint.Publisher
	waits *wait.Waiter
	due   hint.Due
	// runs and workers are the environments of the machinery behind the
	// API (packages run and worker).
	runs    *run.Env
	workerE *worker.Env

	workersMu sync.Mutex
	workers   []*Worker

	// schedSynced is set once the registry's declared schedules are
	// written (syncDeclaredSchedules).
	schedSyncMu sync.Mutex
	schedSynced atomic.Bool

	closed   atomic.Bool
	bgCancel context.CancelFunc
	bgDone   sync.WaitGroup
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
		store: d.Store, notifier: d.Notifier, clock: d.Clock, pace: ports.SystemClock{}, log: d.Logger,
		reg: d.Registry, metrics: d.Metrics, tracing: newTracing(d.TracerProvider), cfg: cfg.withDefaults(), rnd: d.Rand,
	}
	if e.notifier == nil {
		e.notifier, e.ownNotif = NewLocalNotifier(), true
	}
	if e.clock == nil {
		e.clock = ports.SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	var workerDeclaredDead func(string, int)
	if e.metrics == nil {
		e.metrics = NopMetrics{}
	} else {
		sm := safeMetrics{m: e.metrics} // user hooks may panic
		e.metrics = sm
		if _, ok := d.Metrics.(WorkerMetrics); ok {
			workerDeclaredDead = sm.workerDeclaredDead
		}
	}
	if e.rnd == nil {
		e.rnd = rand.Float64
	}
	e.hints = &hint.Publisher{Notifier: e.notifier, Log: e.log, Now: e.now}
	e.waits = &wait.Waiter{Hints: e.hints, Pace: e.pace, PollInterval: e.cfg.PollInterval, PollIntervalMax: e.cfg.PollIntervalMax}
	steps := batch.New(e.cfg.StepBatch, e.writeSteps, func(err error) ports.CreateStepsResult {
		return ports.CreateStepsResult{Err: err}
	})
	completions := batch.New(e.cfg.CompletionBatch, e.writeCompletions, func(err error) error { return err })
	e.runs = &run.Env{
		Store: e.store, Clock: e.clock, Pace: e.pace, Log: e.log, Metrics: runMetrics{e.metrics},
		Trace: e.tracing.startRun, Hints: e.hints, Waits: e.waits, Steps: steps, Completions: completions,
		Lookup: e.reg.lookup, NoteDue: e.noteDue,
		TimeoutExecution: func(ctx context.Context, id string) error {
			_, _, err := e.timeoutExecution(ctx, id)
			return err
		},
		NonDeterminism: func(pos int, recorded, now string) error {
			return &NonDeterminismError{Call: pos, Recorded: recorded, Now: now}
		},
		Random: e.random, MaxPayloadBytes: e.cfg.MaxPayloadBytes, NoInlineSteps: e.cfg.NoInlineSteps,
		ParkAfter: e.cfg.ParkAfter, Owner: e,
	}
	e.workerE = &worker.Env{
		Run: e.runs, CheckOpen: e.checkOpen, Catalogue: e.reg.Infos,
		NextDueIn:    func() (time.Duration, bool) { return e.due.In(e.clock.Now()) },
		SweepOverdue: e.sweepOverdue,
		Cleanup: func(ctx context.Context, before time.Time) error {
			_, err := e.Cleanup(ctx, before, false)
			return err
		},
		WorkerDeclaredDead: workerDeclaredDead,
	}
	bg, cancel := context.WithCancel(context.Background())
	e.bgCancel = cancel
	for range e.cfg.StepWriters {
		e.bgDone.Go(func() { steps.Run(bg) })
	}
	for range e.cfg.CompletionWriters {
		e.bgDone.Go(func() { completions.Run(bg) })
	}
	return e, nil
}

// writeCompletions writes one batch of task completions, then hints the
// parked tasks they woke.
func (e *Engine) writeCompletions(ctx context.Context, params []ports.CompleteParams) []error {
	errs := make([]error, len(params))
	res, err := e.store.CompleteTasks(ctx, params)
	for i := range params {
		switch {
		case err != nil:
			errs[i] = err
		case i < len(res):
			errs[i] = res[i].Err
		default:
			errs[i] = fmt.Errorf("stent: completer: store returned %d results for %d completions", len(res), len(params))
		}
	}
	if err == nil {
		// One ready hint per (queue, function) of the parked tasks woken.
		var evs []domain.Event
		seen := map[[2]string]bool{}
		for _, r := range res {
			for _, w := range r.Woken {
				if k := [2]string{w.Queue, w.StepName}; !seen[k] {
					seen[k] = true
					evs = append(evs, hint.Ready(w.Queue, w.StepName))
				}
			}
		}
		e.hints.Publish(ctx, evs...)
	}
	return errs
}

// writeSteps writes one batch of step creations (CreateStepsBatch); a
// batch of one, or one that a single bad request fails, is written
// request by request so only that one gets the error.
func (e *Engine) writeSteps(ctx context.Context, reqs []ports.CreateStepsRequest) []ports.CreateStepsResult {
	out := make([]ports.CreateStepsResult, len(reqs))
	one := func() []ports.CreateStepsResult {
		for i, r := range reqs {
			tasks, err := ports.CreateSteps(ctx, e.store, r.Parent, r.Specs, r.Ops, r.Now)
			out[i] = ports.CreateStepsResult{Tasks: tasks, Err: err}
		}
		return out
	}
	if len(reqs) == 1 {
		return one()
	}
	res, err := e.store.CreateStepsBatch(ctx, reqs)
	if err != nil && (errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrConflict)) {
		return one()
	}
	for i := range reqs {
		switch {
		case err != nil:
			out[i] = ports.CreateStepsResult{Err: err}
		case i < len(res):
			out[i] = res[i]
		default:
			out[i] = ports.CreateStepsResult{Err: fmt.Errorf("stent: step writer: store returned %d results for %d requests", len(res), len(reqs))}
		}
	}
	return out
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

// noteDue remembers a future due time and wakes the workers when it is
// the earliest known.
func (e *Engine) noteDue(t time.Time) {
	if !e.due.Note(t) {
		return // the workers already wake up sooner
	}
	for _, w := range e.Workers() {
		w.w.Poke()
	}
}
