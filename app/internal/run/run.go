// Package run runs one claimed task: its body, its checkpointed steps
// (replay from stored records, inline steps, waits, sleeps, signals), its
// suspension (park) and its one end-of-run write (complete, retry or
// dead-letter). The claim loop that starts runs is package worker; the
// public calls that issue steps are in package app.
//
// The files read top to bottom: run.go (a run and its context),
// execute.go (a claimed run from start to end), steps.go (step records:
// replay, writes, awaiting them), inline.go (a Call run in the caller's
// goroutine), waits.go (durable sleeps and signal waits), park.go
// (suspension), write.go (fenced writes and their errors).
package run

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/app/internal/batch"
	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/slots"
	"github.com/stenthq/stent/app/internal/wait"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Info identifies a task in metrics hooks (the fields of app.TaskInfo).
type Info struct {
	ExecutionID string
	TaskID      string
	Function    string
	Kind        string
	Queue       string
	Attempt     int
	WorkerID    string
	// ConcurrencyKey and RateKey are the task's flow-limit groups
	// (WithConcurrency, WithRateLimit; empty when none), so a hook can
	// count claims and run times per limit.
	ConcurrencyKey string
	RateKey        string
}

// Metrics receives the observations of runs (app.Metrics's task hooks).
type Metrics interface {
	TaskClaimed(t Info)
	TaskCompleted(t Info, d time.Duration)
	TaskFailed(t Info, code string, retrying bool, d time.Duration)
	DeadLettered(t Info, code string)
	TaskCancelled(t Info)
	LeaseRenewed(t Info)
}

// Env is what every run of an engine shares.
type Env struct {
	Store ports.Store
	// Clock is the clock of stored times, sleeps and deadlines.
	Clock ports.Clock
	// Pace is the wall clock of write backoff (see wait.Waiter.Pace).
	Pace    ports.Clock
	Log     *slog.Logger
	Metrics Metrics
	// Trace starts the span of a run (see app's tracing).
	Trace func(ctx context.Context, info Info, carrier map[string]string) (context.Context, map[string]string, func(error))
	Hints *hint.Publisher
	Waits *wait.Waiter
	// Steps and Completions are the engine's batching writers.
	Steps       *batch.Writer[ports.CreateStepsRequest, ports.CreateStepsResult]
	Completions *batch.Writer[ports.CompleteParams, error]
	// Lookup resolves a registered function.
	Lookup func(name string) (*durable.Func, error)
	// NoteDue tells idle workers about a future due time.
	NoteDue func(time.Time)
	// TimeoutExecution times out an overdue execution and tells everyone.
	TimeoutExecution func(ctx context.Context, id string) error
	// NonDeterminism builds the error of a replay whose call number pos
	// names another function than the recorded one.
	NonDeterminism func(pos int, recorded, now string) error
	// Random is the source of retry jitter, uniform in [0,1).
	Random func() float64

	MaxPayloadBytes int
	NoInlineSteps   bool
	// ParkAfter: see app.Config.ParkAfter (negative: never park).
	ParkAfter time.Duration
	// Owner is the engine the runs belong to (app.EngineFrom).
	Owner any
}

// Now is the engine's current time, normalised.
func (e *Env) Now() time.Time { return domain.NormalizeTime(e.Clock.Now()) }

// Host is the worker a run belongs to.
type Host interface {
	ID() string
	LeaseDuration() time.Duration
	Slots() *slots.Pool
	// Draining is closed once the worker starts draining.
	Draining() <-chan struct{}
	IsDraining() bool
	// Stopped is closed once the worker's Run has returned.
	Stopped() <-chan struct{}
	// Inlines reports whether the worker is ready and runs def (its
	// function, queue and tags), so a call of def may run inline.
	Inlines(def *durable.Func) bool
	// Track lists r among the worker's runs (heartbeats, cancellation);
	// Untrack removes it if it is still the run listed for its task.
	Track(r *Run)
	Untrack(r *Run)
}

type runKey struct{}

// From returns the run ctx belongs to, or nil outside a task.
func From(ctx context.Context) *Run {
	r, _ := ctx.Value(runKey{}).(*Run)
	return r
}

// Run is one attempt of one claimed task in this process, or an inline
// step run in its caller's goroutine.
type Run struct {
	env    *Env
	host   Host
	task   domain.Task // as claimed
	def    *durable.Func
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *slog.Logger // built on first use: see Logger
	logMu  sync.Once
	parent *Run              // set for a step run inline in its parent's goroutine
	trace  map[string]string // W3C context of this run's span, stored on its steps

	// virtual is set for an inline step whose record is not written yet:
	// it is written completed when the body succeeds, or claimed (and made
	// an ordinary run) when the body needs a record first (a nested step,
	// a failure). spec is that record's spec.
	virtual bool
	spec    ports.StepSpec

	// children holds the step records that existed when this run first
	// looked, by position: loaded once per run in one read (a first run
	// has none), they serve completed steps on replay without a write and
	// tell inline steps which positions are fresh.
	children map[int]domain.Task

	// inflight counts the run's step calls in progress (a run parks only
	// while its wait is the one call in flight).
	inflight atomic.Int32

	matMu        sync.Mutex // serialises materialize
	mu           sync.Mutex
	seq          int
	ops          []domain.DataOp
	leaseExpires time.Time
	slot         slots.Holder
}

// New registers the run of claimed task t under base. A first claim's
// task has never run, so it has no step records yet.
func New(env *Env, host Host, base context.Context, t domain.Task, firstClaim bool) *Run {
	ctx, cancel := context.WithCancelCause(base)
	r := &Run{env: env, host: host, task: t, cancel: cancel}
	if t.LeaseExpiresAt != nil {
		r.leaseExpires = *t.LeaseExpiresAt
	}
	if firstClaim {
		r.children = map[int]domain.Task{}
	}
	r.ctx = context.WithValue(ctx, runKey{}, r)
	host.Track(r)
	env.Metrics.TaskClaimed(r.Info())
	return r
}

// UseSteps gives a run that has not started the step records read for it
// (by position; nil: it has none), in place of its own read.
func (r *Run) UseSteps(children map[int]domain.Task) {
	if children == nil {
		children = map[int]domain.Task{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.children == nil {
		r.children = children
	}
}

// end closes a run (claimed, inline, materialised or not): it leaves the
// worker's list and its context is cancelled.
func (r *Run) end() {
	r.host.Untrack(r)
	r.cancel(context.Canceled)
}

// Env returns the engine's shared run environment.
func (r *Run) Env() *Env { return r.env }

// Task returns the task as this run knows it.
func (r *Run) Task() domain.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.task
}

// Slot is the run's hold on a worker slot.
func (r *Run) Slot() *slots.Holder { return &r.slot }

// Fence is the run's claim, for fenced writes.
func (r *Run) Fence() domain.Fence { return r.task.Fence() }

// Cancel ends the run's context with cause.
func (r *Run) Cancel(cause error) { r.cancel(cause) }

// Info identifies the run's task for metrics.
func (r *Run) Info() Info {
	t := r.task
	return Info{ExecutionID: t.ExecutionID, TaskID: t.ID, Function: t.StepName, Kind: string(t.Kind),
		Queue: t.Queue, Attempt: t.Attempt, WorkerID: t.WorkerID, ConcurrencyKey: t.ConcurrencyKey, RateKey: t.RateKey}
}

// Logger returns the run's logger, carrying execution_id, task_id,
// function, step, attempt and worker_id. It is built on first use: most
// runs never log.
func (r *Run) Logger() *slog.Logger {
	r.logMu.Do(func() {
		t := r.task
		r.log = r.env.Log.With("execution_id", t.ExecutionID, "task_id", t.ID, "function", t.StepName,
			"step", t.Position, "attempt", t.Attempt, "worker_id", r.host.ID())
	})
	return r.log
}

// Reserve takes n consecutive call numbers and returns the first.
func (r *Run) Reserve(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.seq + 1
	r.seq += n
	return first
}

// calls is how many call numbers the run has taken.
func (r *Run) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// AddOps buffers data operations; they are committed with the run's next
// new step or its completion.
func (r *Run) AddOps(ops ...domain.DataOp) {
	r.mu.Lock()
	r.ops = append(r.ops, ops...)
	r.mu.Unlock()
}

// takeOps hands the buffered data operations to a write; restoreOps puts
// them back in front if the write failed.
func (r *Run) takeOps() []domain.DataOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *Run) restoreOps(ops []domain.DataOp) {
	if len(ops) == 0 {
		return
	}
	r.mu.Lock()
	r.ops = append(ops, r.ops...)
	r.mu.Unlock()
}

// SetLease records a renewed lease.
func (r *Run) SetLease(t time.Time) {
	r.mu.Lock()
	r.leaseExpires = t
	r.mu.Unlock()
}

// Lease returns when the run's lease expires; a virtual inline step runs
// under its caller's lease.
func (r *Run) Lease() time.Time {
	r.mu.Lock()
	virtual, until := r.virtual, r.leaseExpires
	r.mu.Unlock()
	if virtual && r.parent != nil {
		return r.parent.Lease()
	}
	return until
}

func (r *Run) isVirtual() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.virtual
}

// Enter counts a step call in flight; the returned func ends it.
func (r *Run) Enter() func() {
	r.inflight.Add(1)
	return func() { r.inflight.Add(-1) }
}

// root is the claimed run that holds the slot: an inline step runs in its
// caller's slot.
func (r *Run) root() *Run {
	for r.parent != nil {
		r = r.parent
	}
	return r
}

// releaseSlot gives a waiting run's slot back so the worker can claim.
func (r *Run) releaseSlot() { r.host.Slots().GiveBack(&r.root().slot) }

// acquireSlot takes a slot again for a run that waited.
func (r *Run) acquireSlot(ctx context.Context) error {
	return r.host.Slots().Acquire(ctx, &r.root().slot)
}
