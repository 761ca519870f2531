package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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
// created claimed by this worker at that moment ("materialised") and the
// run continues as an ordinary claimed run: heartbeats, fenced completion,
// retries and dead letters.

// positionIsFresh reports whether no record existed at position pos when
// this run started looking (see loadChildren).
func (tr *taskRun) positionIsFresh(ctx context.Context, pos int) (bool, error) {
	children, err := tr.loadChildren(ctx)
	if err != nil {
		return false, err
	}
	_, ok := children[pos]
	return !ok, nil
}

// loadChildren returns the step records that existed when this run first
// looked, by position. They are read once per run, in one query per 1,000
// records: a resumed or re-run task replays its completed steps from them
// without a store call each. A first run, a virtual inline step and a
// just-materialised one have none.
func (tr *taskRun) loadChildren(ctx context.Context) (map[int]domain.Task, error) {
	tr.mu.Lock()
	children := tr.children
	tr.mu.Unlock()
	if children != nil {
		return children, nil
	}
	children = map[int]domain.Task{}
	if !tr.isVirtual() {
		const page = 1000
		for offset := 0; ; offset += page {
			ts, err := tr.e.store.ListTasks(ctx, ports.TaskFilter{ExecutionID: tr.task.ExecutionID,
				ParentTaskID: tr.task.ID, Limit: page, Offset: offset})
			if err != nil {
				return nil, tr.readErr(ctx, err)
			}
			for _, t := range ts {
				children[t.Position] = t
			}
			if len(ts) < page {
				break
			}
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.children == nil {
		tr.children = children
	}
	return tr.children, nil
}

func (tr *taskRun) isVirtual() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.virtual
}

// runVirtual runs an inline step's body in this goroutine and records its
// outcome; it returns the record as written (or as found).
func (tr *taskRun) runVirtual(ctx context.Context, def *funcDef, spec ports.StepSpec) (domain.Task, error) {
	w, e := tr.w, tr.e
	t := domain.Task{
		ID: spec.ID, ExecutionID: tr.task.ExecutionID, ParentTaskID: tr.task.ID, Position: spec.Position,
		Kind: domain.KindActivity, StepName: spec.StepName, State: domain.TaskRunning, Input: spec.Input,
		Attempt: 1, ParentGeneration: tr.task.Generation, RetryPolicy: spec.RetryPolicy,
		Tags: spec.Tags, Priority: spec.Priority, Queue: spec.Queue, WorkerID: w.id,
		Deadline: tr.task.Deadline, TraceContext: spec.TraceContext,
	}
	child := w.newVirtualRun(tr, t, spec, def)
	defer child.end()

	runCtx, carrier, endSpan := e.tracing.startTask(child.ctx, child.info(), t.TraceContext)
	child.mu.Lock()
	child.trace = carrier
	child.mu.Unlock()
	ended := false
	defer func() {
		if !ended { // the step parked (with its caller): the goroutine exits
			endSpan(nil)
		}
	}()
	startedAt := e.now()
	started := time.Now()
	result, runErr := invokeSafely(runCtx, def, spec.Input)
	elapsed := time.Since(started)
	ended = true
	endSpan(runErr)

	if !child.isVirtual() {
		// Materialised mid-body: an ordinary claimed run from here on.
		return w.finish(child, result, runErr, elapsed), nil
	}
	if child.ctx.Err() != nil {
		// The caller was cancelled, lost its lease or timed out: nothing
		// is recorded, and the caller returns the cause.
		return t, tr.ctxErr(child.ctx, child.ctx.Err())
	}
	if runErr == nil && len(result) <= e.cfg.MaxPayloadBytes {
		if result == nil {
			result = json.RawMessage("null")
		}
		spec.Completed = &ports.StepOutcome{Result: result, StartedAt: startedAt}
		recs, err := tr.ensureSteps(ctx, []ports.StepSpec{spec}, child.takeOps()...)
		if err != nil {
			return t, err
		}
		e.metrics.TaskCompleted(child.info(), elapsed)
		return recs[0], nil
	}
	// A failure is recorded the ordinary way: claim the record, then
	// retry or fail it per its policy (finish also turns an oversized
	// result into a permanent failure).
	if err := child.materialize(ctx); err != nil {
		return t, err
	}
	return w.finish(child, result, runErr, elapsed), nil
}

// newVirtualRun builds the run of an inline step that has no record yet.
// It lives in its caller's context, slot and lease, and is not in the
// worker's run list until it is materialised.
func (w *Worker) newVirtualRun(parent *taskRun, t domain.Task, spec ports.StepSpec, def *funcDef) *taskRun {
	ctx, cancel := context.WithCancelCause(parent.ctx)
	tr := &taskRun{e: w.e, w: w, task: t, def: def, cancel: cancel, parent: parent,
		virtual: true, spec: spec, done: make(chan struct{})}
	tr.ctx = context.WithValue(ctx, runKey{}, tr)
	w.e.metrics.TaskClaimed(tr.info())
	return tr
}

// materialize writes the record of a virtual run, claimed by this worker,
// and makes it an ordinary run (heartbeats, fenced writes). A no-op for a
// run that has a record.
func (tr *taskRun) materialize(ctx context.Context) error {
	tr.matMu.Lock()
	defer tr.matMu.Unlock()
	if !tr.isVirtual() {
		return nil
	}
	spec := tr.spec
	spec.Claim = &ports.StepClaim{WorkerID: tr.w.id, Token: domain.NewID(),
		LeaseExpiresAt: tr.e.now().Add(tr.w.opts.LeaseDuration)}
	recs, err := tr.parent.ensureSteps(ctx, []ports.StepSpec{spec})
	if err != nil {
		return err
	}
	rec := recs[0]
	if rec.State != domain.TaskRunning || rec.ClaimToken != spec.Claim.Token {
		return fmt.Errorf("stent: inline step %q (call #%d of %q) found a record it did not write (state %s)",
			rec.ID, spec.Position, tr.parent.task.StepName, rec.State)
	}
	tr.mu.Lock()
	tr.task, tr.virtual, tr.children = rec, false, map[int]domain.Task{}
	if rec.LeaseExpiresAt != nil {
		tr.leaseExpires = *rec.LeaseExpiresAt
	}
	tr.mu.Unlock()
	w := tr.w
	w.runsMu.Lock()
	w.runs[rec.ID] = tr
	w.runsMu.Unlock()
	return nil
}

// end closes a run started by runVirtual (materialised or not).
func (tr *taskRun) end() {
	w := tr.w
	w.runsMu.Lock()
	if w.runs[tr.task.ID] == tr {
		delete(w.runs, tr.task.ID)
	}
	w.runsMu.Unlock()
	tr.cancel(context.Canceled)
	close(tr.done)
}
