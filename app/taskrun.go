package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

type runKey struct{}

type engineKey struct{}

// WithEngine attaches eng to ctx: outside a running task, a Call made with
// the returned context dispatches an execution on eng and waits for it
// (the original's auto-dispatch, without global state).
func WithEngine(ctx context.Context, eng *Engine) context.Context {
	return context.WithValue(ctx, engineKey{}, eng)
}

// EngineFrom returns the engine attached with WithEngine, or the engine
// running the current task, or nil.
func EngineFrom(ctx context.Context) *Engine {
	if tr := runFrom(ctx); tr != nil {
		return tr.e
	}
	eng, _ := ctx.Value(engineKey{}).(*Engine)
	return eng
}

func runFrom(ctx context.Context) *taskRun {
	tr, _ := ctx.Value(runKey{}).(*taskRun)
	return tr
}

// TaskContext describes the running task, for user code that wants to log
// or branch on it.
type TaskContext struct {
	ExecutionID string
	TaskID      string
	Function    string
	Attempt     int
	Generation  int
	WorkerID    string
}

// CurrentTask returns the running task's identity, or false outside a task.
func CurrentTask(ctx context.Context) (TaskContext, bool) {
	tr := runFrom(ctx)
	if tr == nil {
		return TaskContext{}, false
	}
	t := tr.task
	return TaskContext{ExecutionID: t.ExecutionID, TaskID: t.ID, Function: t.StepName,
		Attempt: t.Attempt, Generation: t.Generation, WorkerID: t.WorkerID}, true
}

// Logger returns a logger carrying the running task's attributes
// (execution_id, task_id, function, attempt, worker_id), or the engine's
// logger, or a discarding one.
func Logger(ctx context.Context) *slog.Logger {
	if tr := runFrom(ctx); tr != nil {
		return tr.logger()
	}
	if eng := EngineFrom(ctx); eng != nil {
		return eng.log
	}
	return slog.New(slog.DiscardHandler)
}

// taskRun is one attempt of one claimed task in this process.
type taskRun struct {
	e      *Engine
	w      *Worker
	task   domain.Task // as claimed
	def    *funcDef
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *slog.Logger // built on first use: see logger
	logMu  sync.Once
	parent *taskRun          // set for a step run inline in its parent's goroutine
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
	holdsSlot    bool // guarded by w.slots.mu
	done         chan struct{}
}

func (tr *taskRun) fence() domain.Fence { return tr.task.Fence() }

func (tr *taskRun) info() TaskInfo {
	t := tr.task
	return TaskInfo{ExecutionID: t.ExecutionID, TaskID: t.ID, Function: t.StepName, Kind: string(t.Kind),
		Queue: t.Queue, Attempt: t.Attempt, WorkerID: t.WorkerID}
}

// reserve takes n consecutive call numbers and returns the first.
func (tr *taskRun) reserve(n int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	first := tr.seq + 1
	tr.seq += n
	return first
}

func (tr *taskRun) addOps(ops ...domain.DataOp) {
	tr.mu.Lock()
	tr.ops = append(tr.ops, ops...)
	tr.mu.Unlock()
}

// takeOps hands the buffered data operations to a write; restoreOps puts
// them back in front if the write failed.
func (tr *taskRun) takeOps() []domain.DataOp {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ops := tr.ops
	tr.ops = nil
	return ops
}

func (tr *taskRun) restoreOps(ops []domain.DataOp) {
	if len(ops) == 0 {
		return
	}
	tr.mu.Lock()
	tr.ops = append(ops, tr.ops...)
	tr.mu.Unlock()
}

func (tr *taskRun) setLease(t time.Time) {
	tr.mu.Lock()
	tr.leaseExpires = t
	tr.mu.Unlock()
}

// lease returns when the run's lease expires; a virtual inline step runs
// under its caller's lease.
func (tr *taskRun) lease() time.Time {
	tr.mu.Lock()
	virtual, until := tr.virtual, tr.leaseExpires
	tr.mu.Unlock()
	if virtual && tr.parent != nil {
		return tr.parent.lease()
	}
	return until
}

// enter counts a step call in flight; the returned func ends it.
func (tr *taskRun) enter() func() {
	tr.inflight.Add(1)
	return func() { tr.inflight.Add(-1) }
}

// AddCounter adds delta to the execution's counter name. The change is
// buffered and committed with the task's next new step or its completion,
// exactly once; it is dropped if the attempt fails. Outside a task it
// returns ErrNotInTask; a non-finite delta is ErrInvalidArgument.
func AddCounter(ctx context.Context, name string, delta float64) error {
	tr := runFrom(ctx)
	if tr == nil {
		return ErrNotInTask
	}
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return domain.InvalidArgument("counter %q: delta %v is not a finite number", name, delta)
	}
	if err := domain.ValidateName("counter name", name); err != nil {
		return err
	}
	tr.addOps(domain.DataOp{Kind: domain.OpAddCounter, Key: name, Number: delta})
	return nil
}

// CounterHandle adds to one counter of the running execution.
type CounterHandle struct {
	ctx  context.Context
	name string
}

// Counter returns a handle on the execution's counter name.
func Counter(ctx context.Context, name string) CounterHandle {
	return CounterHandle{ctx: ctx, name: name}
}

// Add adds delta (see AddCounter).
func (c CounterHandle) Add(delta float64) error { return AddCounter(c.ctx, c.name, delta) }

// SetState sets the execution's custom state key to v (JSON-encoded),
// buffered like AddCounter.
func SetState(ctx context.Context, key string, v any) error {
	tr := runFrom(ctx)
	if tr == nil {
		return ErrNotInTask
	}
	if err := domain.ValidateName("state key", key); err != nil {
		return err
	}
	raw, err := encodeValue(v, tr.e.cfg.MaxPayloadBytes)
	if err != nil {
		return err
	}
	tr.addOps(domain.DataOp{Kind: domain.OpSetState, Key: key, Value: raw})
	return nil
}

// InitData sets counters and state keys that are not set yet (values
// already present are kept), buffered like AddCounter.
func InitData(ctx context.Context, counters map[string]float64, state map[string]any) error {
	tr := runFrom(ctx)
	if tr == nil {
		return ErrNotInTask
	}
	var ops []domain.DataOp
	for k, v := range counters {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return domain.InvalidArgument("counter %q: value %v is not a finite number", k, v)
		}
		ops = append(ops, domain.DataOp{Kind: domain.OpInitCounter, Key: k, Number: v})
	}
	for k, v := range state {
		raw, err := encodeValue(v, tr.e.cfg.MaxPayloadBytes)
		if err != nil {
			return err
		}
		ops = append(ops, domain.DataOp{Kind: domain.OpInitState, Key: k, Value: json.RawMessage(raw)})
	}
	tr.addOps(ops...)
	return nil
}

// logger returns the run's logger, carrying execution_id, task_id,
// function, step, attempt and worker_id. It is built on first use: most
// runs never log.
func (tr *taskRun) logger() *slog.Logger {
	tr.logMu.Do(func() {
		t := tr.task
		tr.log = tr.e.log.With("execution_id", t.ExecutionID, "task_id", t.ID, "function", t.StepName,
			"step", t.Position, "attempt", t.Attempt, "worker_id", tr.w.id)
	})
	return tr.log
}
