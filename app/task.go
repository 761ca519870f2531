package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
)

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
	if r := run.From(ctx); r != nil {
		return r.Env().Owner.(*Engine)
	}
	eng, _ := ctx.Value(engineKey{}).(*Engine)
	return eng
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
	r := run.From(ctx)
	if r == nil {
		return TaskContext{}, false
	}
	t := r.Task()
	return TaskContext{ExecutionID: t.ExecutionID, TaskID: t.ID, Function: t.StepName,
		Attempt: t.Attempt, Generation: t.Generation, WorkerID: t.WorkerID}, true
}

// Logger returns a logger carrying the running task's attributes
// (execution_id, task_id, function, attempt, worker_id), or the engine's
// logger, or a discarding one.
func Logger(ctx context.Context) *slog.Logger {
	if r := run.From(ctx); r != nil {
		return r.Logger()
	}
	if eng := EngineFrom(ctx); eng != nil {
		return eng.log
	}
	return slog.New(slog.DiscardHandler)
}

// AddCounter adds delta to the execution's counter name. The change is
// buffered and committed with the task's next new step or its completion,
// exactly once; it is dropped if the attempt fails. Outside a task it
// returns ErrNotInTask; a non-finite delta is ErrInvalidArgument.
func AddCounter(ctx context.Context, name string, delta float64) error {
	r := run.From(ctx)
	if r == nil {
		return ErrNotInTask
	}
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return domain.InvalidArgument("counter %q: delta %v is not a finite number", name, delta)
	}
	if err := domain.ValidateName("counter name", name); err != nil {
		return err
	}
	r.AddOps(domain.DataOp{Kind: domain.OpAddCounter, Key: name, Number: delta})
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
	r := run.From(ctx)
	if r == nil {
		return ErrNotInTask
	}
	if err := domain.ValidateName("state key", key); err != nil {
		return err
	}
	raw, err := durable.Encode(v, r.Env().MaxPayloadBytes)
	if err != nil {
		return err
	}
	r.AddOps(domain.DataOp{Kind: domain.OpSetState, Key: key, Value: raw})
	return nil
}

// InitData sets counters and state keys that are not set yet (values
// already present are kept), buffered like AddCounter.
func InitData(ctx context.Context, counters map[string]float64, state map[string]any) error {
	r := run.From(ctx)
	if r == nil {
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
		raw, err := durable.Encode(v, r.Env().MaxPayloadBytes)
		if err != nil {
			return err
		}
		ops = append(ops, domain.DataOp{Kind: domain.OpInitState, Key: k, Value: json.RawMessage(raw)})
	}
	r.AddOps(ops...)
	return nil
}
