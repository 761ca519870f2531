package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ensureSteps makes sure every spec has its positional record and applies
// the re-attachment rules of SPEC §4.2 for this run's generation: a record
// with another name is a non-determinism error in the same generation and
// is reset in a newer one; a failed record is reset in a newer generation;
// a cancelled record is reset unless the execution is over.
//
// extraOps (an inline step's own data operations) are committed with the
// records, after this run's buffered operations.
func (tr *taskRun) ensureSteps(ctx context.Context, specs []ports.StepSpec, extraOps ...domain.DataOp) ([]domain.Task, error) {
	e := tr.e
	if err := tr.materialize(ctx); err != nil {
		return nil, err
	}
	if recs, ok, err := tr.replayed(ctx, specs); ok || err != nil {
		return recs, err
	}
	ops := tr.takeOps()
	all := ops
	if len(extraOps) > 0 {
		all = append(append([]domain.DataOp(nil), ops...), extraOps...)
	}
	// A checkpoint write that meets a store blip is retried until the
	// lease ends; user code sees an error only when the lease is lost.
	var res ports.CreateStepsResult
	err := tr.w.retryWrite(ctx, tr, func(now time.Time) error {
		res = e.steps.create(ctx, ports.CreateStepsRequest{Parent: tr.fence(), Specs: specs, Ops: all, Now: now})
		return res.Err
	})
	recs := res.Tasks
	if err != nil {
		tr.restoreOps(ops)
		return nil, tr.writeErr(ctx, err)
	}
	gen := tr.task.Generation
	for i := range recs {
		rec, spec := recs[i], specs[i]
		newer := rec.ParentGeneration < gen
		switch {
		case rec.StepName != spec.StepName:
			if !newer {
				return nil, &NonDeterminismError{Call: spec.Position, Recorded: rec.StepName, Now: spec.StepName}
			}
			rec, err = tr.resetStep(ctx, spec, rec)
		case rec.State == domain.TaskFailed && newer:
			rec, err = tr.resetStep(ctx, spec, rec)
		case rec.State == domain.TaskCancelled:
			var ex domain.Execution
			ex, err = e.store.GetExecution(ctx, rec.ExecutionID)
			if err == nil && !ex.State.Terminal() {
				rec, err = tr.resetStep(ctx, spec, rec)
			}
		}
		if err != nil {
			return nil, err
		}
		recs[i] = rec
	}
	tr.announce(ctx, recs)
	return recs, nil
}

// replayed serves specs from the records loaded when the run started
// (loadChildren) when every one of them is a completed record of the same
// step: a replay after a park, a crash or a retry re-attaches to its
// checkpoints without a store call. The operations buffered since the
// previous checkpoint are dropped, as a re-attaching write drops them (the
// record's creation committed them). ok is false when any spec needs the
// store (no record, a live, failed or cancelled one, another name).
func (tr *taskRun) replayed(ctx context.Context, specs []ports.StepSpec) ([]domain.Task, bool, error) {
	tr.mu.Lock()
	children := tr.children
	tr.mu.Unlock()
	if len(children) == 0 {
		if children != nil || tr.isVirtual() {
			return nil, false, nil
		}
		var err error
		if children, err = tr.loadChildren(ctx); err != nil {
			return nil, false, err
		}
	}
	recs := make([]domain.Task, len(specs))
	for i, spec := range specs {
		rec, ok := children[spec.Position]
		if !ok || rec.State != domain.TaskCompleted {
			return nil, false, nil
		}
		if rec.StepName != spec.StepName {
			if rec.ParentGeneration < tr.task.Generation {
				return nil, false, nil // a newer generation resets it
			}
			return nil, false, &NonDeterminismError{Call: spec.Position, Recorded: rec.StepName, Now: spec.StepName}
		}
		recs[i] = rec
	}
	tr.takeOps()
	return recs, true, nil
}

// announce publishes a ready hint for every claimable pending record.
func (tr *taskRun) announce(ctx context.Context, recs []domain.Task) {
	var evs []domain.Event
	seen := map[[2]string]bool{}
	for _, r := range recs {
		if r.State != domain.TaskPending || !r.Kind.Claimable() || !r.Due(tr.e.now()) {
			continue
		}
		k := [2]string{r.Queue, r.StepName}
		if !seen[k] {
			seen[k] = true
			evs = append(evs, readyEvent(r.Queue, r.StepName))
		}
	}
	tr.e.publish(ctx, evs...)
}

// resetStep re-queues rec for this newer generation (waiting first if it
// is still live under another name).
func (tr *taskRun) resetStep(ctx context.Context, spec ports.StepSpec, rec domain.Task) (domain.Task, error) {
	if rec.State.Live() {
		recs, err := tr.awaitRecords(ctx, []domain.Task{rec})
		if err != nil {
			return rec, err
		}
		rec = recs[0]
	}
	spec.Claim = nil
	out, err := tr.e.store.ResetStep(ctx, tr.fence(), spec, tr.e.now())
	if err != nil {
		return rec, tr.writeErr(ctx, err)
	}
	tr.logger().InfoContext(ctx, "step re-queued for a new generation", "step", spec.Position, "function", spec.StepName)
	return out, nil
}

// awaitRecords waits until every record is terminal, giving the worker slot
// back while it waits, and returns them as stored.
func (tr *taskRun) awaitRecords(ctx context.Context, recs []domain.Task) ([]domain.Task, error) {
	byID := make(map[string]int, len(recs))
	var waiting []string
	for i, r := range recs {
		byID[r.ID] = i
		if r.State.Live() {
			waiting = append(waiting, r.ID)
		}
	}
	if len(waiting) == 0 {
		return recs, nil
	}
	out := slices.Clone(recs)
	topics := make([]domain.Topic, 0, len(waiting))
	for _, id := range waiting {
		topics = append(topics, domain.TaskTopic(id))
		if r := recs[byID[id]]; r.LinkOwnerID != "" {
			topics = append(topics, domain.TaskTopic(r.LinkOwnerID))
		}
	}
	live := map[string]bool{}
	for _, id := range waiting {
		live[id] = true
	}
	released := false
	check := func(ctx context.Context, changed []string, all bool) (bool, error) {
		var ids []string
		if all {
			for id := range live {
				ids = append(ids, id)
			}
		} else {
			for _, id := range changed {
				if live[id] {
					ids = append(ids, id)
				}
			}
			// An event on a link owner's topic concerns its links.
			for id := range live {
				if o := out[byID[id]].LinkOwnerID; o != "" && slices.Contains(changed, o) && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 {
			return false, nil
		}
		ts, err := tr.e.store.GetTasks(ctx, ids)
		if errors.Is(err, ErrUnavailable) {
			return false, nil // a store blip: the next poll reads again
		}
		if err != nil {
			return false, tr.readErr(ctx, err)
		}
		for _, t := range ts {
			out[byID[t.ID]] = t
			if t.State.Terminal() {
				delete(live, t.ID)
			}
		}
		return len(live) == 0, nil
	}
	onBlock := func() {
		if !released {
			released = true
			tr.w.releaseSlot(tr)
		}
	}
	var park *waitPark
	if after, ok := tr.parkAfter(); ok {
		park = &waitPark{after: after, now: tr.w.draining}
	}
	var err error
	for {
		err = tr.e.waitUntil(ctx, topics, check, onBlock, nil, park)
		if !errors.Is(err, errParkNow) {
			break
		}
		if !tr.mayPark() {
			park = nil // stay in memory
			continue
		}
		// Parks and ends the goroutine, unless the records ended
		// meanwhile (then the next check sees them) or it failed.
		ids := make([]string, 0, len(live))
		for _, r := range out {
			if live[r.ID] {
				ids = append(ids, r.ID)
			}
		}
		if err = tr.park(ctx, nil, ids); err != nil {
			break
		}
	}
	if released {
		if aerr := tr.w.acquireSlot(ctx, tr); aerr != nil && err == nil {
			err = aerr
		}
	}
	if err != nil {
		return nil, tr.ctxErr(ctx, err)
	}
	return out, nil
}

// outcome turns a terminal record into its result or error.
func recordOutcome(rec domain.Task) ([]byte, error) {
	switch rec.State {
	case domain.TaskCompleted:
		return rec.Result, nil
	case domain.TaskFailed:
		if rec.Error != nil {
			return nil, rec.Error
		}
		return nil, fmt.Errorf("stent: step %q failed", rec.StepName)
	case domain.TaskCancelled:
		if rec.Error != nil {
			return nil, rec.Error
		}
		return nil, domain.SentinelError(ErrCancelled, "step cancelled")
	}
	return nil, fmt.Errorf("stent: step %q is still %s", rec.StepName, rec.State)
}

// writeErr explains a failed fenced write: when the task's own context has
// ended, that cause wins (the write failed because of it).
func (tr *taskRun) writeErr(ctx context.Context, err error) error {
	if cause := context.Cause(tr.ctx); cause != nil && tr.ctx.Err() != nil {
		return cause
	}
	if errors.Is(err, ErrLeaseLost) {
		// The fence failed: find out why (cancelled, timed out or really
		// lost) so the function sees the true cause, then stop the run.
		cause := tr.whyLost(ctx)
		tr.cancel(cause)
		return cause
	}
	return err
}

// whyLost reads the task and its execution after a fenced write failed and
// returns ErrCancelled, ErrTimedOut or ErrLeaseLost.
func (tr *taskRun) whyLost(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	t, err := tr.e.store.GetTask(ctx, tr.task.ID)
	if err != nil {
		return ErrLeaseLost
	}
	var es domain.ExecutionState
	if ex, err := tr.e.store.GetExecution(ctx, t.ExecutionID); err == nil {
		es = ex.State
	}
	if t.State == domain.TaskRunning && t.ClaimToken != tr.task.ClaimToken {
		return ErrLeaseLost // another worker holds it now
	}
	return lostCause(t.State, es)
}

func (tr *taskRun) readErr(ctx context.Context, err error) error { return tr.ctxErr(ctx, err) }

// ctxErr returns the cause of the task context's end (ErrCancelled,
// ErrLeaseLost, ErrTimedOut) in place of a bare context error.
func (tr *taskRun) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// stepSpec builds the spec of an activity call at position pos.
func (tr *taskRun) stepSpec(def *funcDef, input []byte, pos int) (ports.StepSpec, error) {
	spec := ports.StepSpec{
		ID: domain.StepID(tr.task.ExecutionID, tr.task.ID, pos), Position: pos,
		Kind: domain.KindActivity, StepName: def.name, Input: input,
		RetryPolicy: def.retry, MaxConcurrent: def.maxConcurrent,
		Tags: def.tags, Priority: def.priority, Queue: def.queue,
		TraceContext: tr.trace,
	}
	if def.idempotent || def.cached {
		key, err := def.key(input)
		if err != nil {
			return spec, err
		}
		if def.idempotent {
			spec.IdempotencyKey = key
		}
		if def.cached {
			spec.CacheKey = key
		}
	}
	return spec, nil
}
