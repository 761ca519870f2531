package run

import (
	"context"
	"encoding/json"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Inline steps. A sequential Call of a function this worker runs (see
// canInline) does not go through the claim path: its body runs at once in
// the caller's goroutine and slot, before any record exists, and its record
// is then written once, already completed, with the step's data operations
// (StepSpec.Completed) — one write per step, batched with other tasks' step
// writes by the step writer. If the process dies mid-body nothing was
// recorded and the re-run runs the body again, exactly as for a claimed
// step whose completion was not written. When the body needs a record
// before it ends (it issues steps of its own) or fails, the record is
// created claimed by this worker at that moment (materialize, steps.go) and
// the run continues as an ordinary claimed run: heartbeats, fenced
// completion, retries and dead letters.

// Call is a checkpointed call of def with in, inside this run. When this
// worker may run the function and no record exists yet at this position,
// the body runs inline (runInline); otherwise the step is created pending,
// claimed by any eligible worker, and this run waits with its slot given
// back. It returns the step's stored result or error.
func (r *Run) Call(ctx context.Context, def *durable.Func, in any) (json.RawMessage, error) {
	spec, err := r.Activity(def, in, r.Reserve(1))
	if err != nil {
		return nil, err
	}
	inline, err := r.canInline(ctx, def, spec.Position)
	if err != nil {
		return nil, err
	}
	var rec domain.Task
	if inline {
		rec, err = r.runInline(ctx, def, spec)
	} else {
		var recs []domain.Task
		if recs, err = r.EnsureSteps(ctx, []ports.StepSpec{spec}); err == nil {
			rec = recs[0]
		}
	}
	if err != nil {
		return nil, err
	}
	recs, err := r.Await(ctx, []domain.Task{rec})
	if err != nil {
		return nil, err
	}
	return Outcome(recs[0])
}

// canInline reports whether the call of def at position pos may run
// inline: nothing about it needs the shared claim path (no concurrency
// limit, no idempotency link, no cache entry to write), this worker runs
// it, and no record existed at pos when this run started looking.
func (r *Run) canInline(ctx context.Context, def *durable.Func, pos int) (bool, error) {
	if r.env.NoInlineSteps || def.MaxConcurrent > 0 || def.Flow != nil || def.Idempotent || def.Cached || !r.host.Inlines(def) {
		return false, nil
	}
	children, err := r.loadChildren(ctx)
	if err != nil {
		return false, err
	}
	_, recorded := children[pos]
	return !recorded, nil
}

// runInline runs an inline step, in order: build its run (no record yet,
// in the caller's context, slot and lease), run its body, then record the
// outcome. It returns the record as written (or as found).
func (r *Run) runInline(ctx context.Context, def *durable.Func, spec ports.StepSpec) (domain.Task, error) {
	env := r.env
	// 1. The step's run: virtual until it needs a record.
	t := domain.Task{
		ID: spec.ID, ExecutionID: r.task.ExecutionID, ParentTaskID: r.task.ID, Position: spec.Position,
		Kind: domain.KindActivity, StepName: spec.StepName, Version: spec.Version, State: domain.TaskRunning, Input: spec.Input,
		Attempt: 1, ParentGeneration: r.task.Generation, RetryPolicy: spec.RetryPolicy,
		Tags: spec.Tags, Priority: spec.Priority, Queue: spec.Queue, WorkerID: r.host.ID(),
		Deadline: r.task.Deadline, TraceContext: spec.TraceContext,
	}
	childCtx, cancel := context.WithCancelCause(r.ctx)
	child := &Run{env: env, host: r.host, task: t, def: def, cancel: cancel, parent: r, virtual: true, spec: spec}
	child.ctx = context.WithValue(childCtx, runKey{}, child)
	env.Metrics.TaskClaimed(child.Info())
	defer child.end()

	// 2. The body, in this goroutine, under its own span.
	runCtx, carrier, endSpan := env.Trace(child.ctx, child.Info(), t.TraceContext)
	child.mu.Lock()
	child.trace = carrier
	child.mu.Unlock()
	ended := false
	defer func() {
		if !ended { // the step parked (with its caller): the goroutine exits
			endSpan(nil)
		}
	}()
	startedAt := env.Now()
	started := env.Pace.Now()
	result, runErr := invokeSafely(runCtx, def, spec.Input)
	elapsed := env.Pace.Now().Sub(started)
	ended = true
	endSpan(runErr)

	// 3. The outcome.
	switch {
	case !child.isVirtual():
		// Materialised mid-body: an ordinary claimed run from here on.
		return child.finish(result, runErr, elapsed), nil
	case child.ctx.Err() != nil:
		// The caller was cancelled, lost its lease or timed out: nothing
		// is recorded, and the caller returns the cause.
		return t, CtxErr(child.ctx, child.ctx.Err())
	case runErr == nil && len(result) <= env.MaxPayloadBytes:
		// Success: the record is written once, completed.
		if result == nil {
			result = json.RawMessage("null")
		}
		spec.Completed = &ports.StepOutcome{Result: result, StartedAt: startedAt}
		recs, err := r.EnsureSteps(ctx, []ports.StepSpec{spec}, child.takeOps()...)
		if err != nil {
			return t, err
		}
		env.Metrics.TaskCompleted(child.Info(), elapsed)
		return recs[0], nil
	default:
		// A failure is recorded the ordinary way: claim the record, then
		// retry or fail it per its policy (finish also turns an oversized
		// result into a permanent failure).
		if err := child.materialize(ctx); err != nil {
			return t, err
		}
		return child.finish(result, runErr, elapsed), nil
	}
}
