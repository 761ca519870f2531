package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// execute runs one claimed task to its end (SPEC §5.2) and records the
// outcome. It returns the record as this worker last knows it.
func (w *Worker) execute(tr *taskRun) domain.Task {
	defer w.endRun(tr)
	e := w.e
	t := tr.task
	ctx := tr.ctx
	now := e.now()

	// 1. An overdue execution is timed out, not run.
	if t.Deadline != nil && !now.Before(*t.Deadline) {
		if _, _, err := e.timeoutExecution(ctx, t.ExecutionID); err != nil {
			tr.logger().WarnContext(ctx, "timing out an overdue execution failed", "error", err)
		}
		return t
	}
	// 2. Poison-pill protection: a task whose worker was lost more often
	// than its recovery budget allows (a body that kills its process every
	// time) fails for good. Recoveries never spend attempts.
	if budget := t.RetryPolicy.RecoveryBudget(); t.Recoveries > budget {
		err := domain.Permanent(fmt.Errorf("%w: task recovered %d times after its worker was lost (lease expired or worker declared dead); the recovery budget (RetryPolicy.MaxRecoveries) is %d",
			ErrLeaseLost, t.Recoveries, budget))
		return w.finishFailure(tr, err, 0)
	}
	// 3. Resolve the function; a race (catalogue changed) gives it back.
	def, err := e.reg.lookup(t.StepName)
	if err != nil {
		if rerr := e.store.ReleaseTask(ctx, tr.fence(), now, true); rerr != nil && !errors.Is(rerr, ErrLeaseLost) {
			tr.logger().WarnContext(ctx, "releasing an unrunnable task failed", "error", rerr)
		}
		e.publish(ctx, readyEvent(t.Queue, t.StepName))
		return t
	}
	tr.def = def

	// 5. The task context: the execution deadline (cause ErrTimedOut) and
	// cancellation (ErrCancelled, ErrLeaseLost) from the worker.
	if t.Deadline != nil {
		stop := w.deadlineTimer(tr, *t.Deadline)
		defer stop()
	}
	runCtx, carrier, endSpan := e.tracing.startTask(tr.ctx, tr.info(), t.TraceContext)
	tr.trace = carrier
	ended := false
	defer func() {
		if !ended { // the run parked: its goroutine is exiting
			endSpan(nil)
		}
	}()

	// 6. Run the body, recovering panics. A body that parks never returns
	// here (see park.go): the deferred calls end the run.
	started := time.Now()
	result, runErr := runBody(runCtx, def, t.Input)
	elapsed := time.Since(started)
	ended = true
	endSpan(runErr)
	// The slot bounds running user code: give it back before the outcome
	// is written, so the next claim overlaps this completion's write.
	w.slots.giveBack(tr)

	return w.finish(tr, result, runErr, elapsed)
}

// finish records a claimed run's outcome: nothing when its context ended
// (cancelled, lease lost, timed out: the cause decides), else its result or
// its failure (SPEC §5.2 step 7).
func (w *Worker) finish(tr *taskRun, result json.RawMessage, runErr error, elapsed time.Duration) domain.Task {
	e := w.e
	t := tr.task
	ctx := tr.ctx
	if tr.ctx.Err() != nil {
		switch cause := context.Cause(tr.ctx); {
		case errors.Is(cause, ErrTimedOut):
			if _, _, err := e.timeoutExecution(context.WithoutCancel(ctx), t.ExecutionID); err != nil {
				tr.logger().WarnContext(ctx, "timing out the execution failed", "error", err)
			}
			return t
		case errors.Is(cause, ErrCancelled):
			e.metrics.TaskCancelled(tr.info())
			tr.logger().InfoContext(ctx, "task cancelled")
			return t
		case errors.Is(cause, errParked):
			// Another goroutine of the run parked it; the replay that
			// resumes it does the rest.
			return t
		case errors.Is(cause, errReleased):
			tr.logger().InfoContext(ctx, "task released: the worker stopped before it finished")
			return t
		default:
			tr.logger().WarnContext(ctx, "lease lost; result discarded", "cause", cause)
			return t
		}
	}
	if runErr == nil {
		if len(result) > e.cfg.MaxPayloadBytes {
			runErr = domain.Permanent(fmt.Errorf("%w: the result of %q is %d bytes; the limit is %d",
				ErrPayloadTooLarge, t.StepName, len(result), e.cfg.MaxPayloadBytes))
		} else {
			return w.finishSuccess(tr, result, elapsed)
		}
	}
	return w.finishFailure(tr, runErr, elapsed)
}

// invokeSafely runs the function and turns a panic into a stored error
// with code "panic" and the stack.
func invokeSafely(ctx context.Context, def *funcDef, input json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, domain.NewPanicError(v, debug.Stack())
		}
	}()
	return def.invoke(ctx, input)
}

// deadlineTimer cancels the run with ErrTimedOut at the execution deadline
// on the engine's clock.
func (w *Worker) deadlineTimer(tr *taskRun, deadline time.Time) (stop func()) {
	e := w.e
	wait := deadline.Sub(e.clock.Now())
	if _, wall := e.clock.(systemClock); wall || isWallClock(e.clock) {
		t := time.AfterFunc(wait, func() { tr.cancel(ErrTimedOut) })
		return func() { t.Stop() }
	}
	timer := e.clock.NewTimer(wait)
	done := make(chan struct{})
	go func() {
		select {
		case <-timer.C():
			tr.cancel(ErrTimedOut)
		case <-done:
			timer.Stop()
		}
	}()
	return func() { close(done) }
}

func isWallClock(c ports.Clock) bool {
	wc, ok := c.(interface{ WallClock() bool })
	return ok && wc.WallClock()
}

// finishSuccess records the result through the batching completer,
// retrying transient store errors until the lease runs out.
func (w *Worker) finishSuccess(tr *taskRun, result json.RawMessage, elapsed time.Duration) domain.Task {
	e := w.e
	t := tr.task
	ctx := context.WithoutCancel(tr.ctx)
	if result == nil {
		result = json.RawMessage("null")
	}
	ops := tr.takeOps()
	var cacheExpires *time.Time
	if t.CacheKey != "" && tr.def != nil && tr.def.cacheTTL > 0 {
		x := e.now().Add(tr.def.cacheTTL)
		cacheExpires = &x
	}
	err := w.retryWrite(ctx, tr, func(now time.Time) error {
		return e.completer.complete(ctx, ports.CompleteParams{
			Fence: tr.fence(), Result: result, Ops: ops, CacheExpiresAt: cacheExpires, Now: now,
		})
	})
	if err != nil {
		tr.logger().WarnContext(ctx, "completion discarded", "error", err)
		return t
	}
	t.State, t.Result = domain.TaskCompleted, result
	e.metrics.TaskCompleted(tr.info(), elapsed)
	evs := []domain.Event{taskEvent(t)}
	if t.IsRoot() {
		evs = append(evs, executionEvent(t.ExecutionID, domain.ExecutionCompleted))
	}
	e.publish(ctx, evs...)
	if e.log.Enabled(ctx, slog.LevelDebug) {
		tr.logger().DebugContext(ctx, "task completed", "duration", elapsed)
	}
	return t
}

// finishFailure retries the task per its stored policy, or fails it
// terminally (dead letter).
func (w *Worker) finishFailure(tr *taskRun, runErr error, elapsed time.Duration) domain.Task {
	e := w.e
	t := tr.task
	ctx := context.WithoutCancel(tr.ctx)
	policy := t.RetryPolicy
	retryable := policy.Retryable(runErr)
	var te *domain.TaskError
	if stored, ok := runErr.(*domain.TaskError); ok {
		// A panic, or a child's stored error returned as is: keep its shape.
		c := *stored
		c.Retryable = retryable
		te = &c
	} else {
		te = domain.NewTaskError(runErr, retryable)
	}
	if retryable && t.Attempt < policy.MaxAttempts {
		delay := policy.Delay(t.Attempt, e.random)
		var runAt time.Time
		err := w.retryWrite(ctx, tr, func(now time.Time) error {
			runAt = now.Add(delay)
			return e.store.RetryTask(ctx, ports.RetryParams{Fence: tr.fence(), Error: te, RunAt: runAt, Now: now})
		})
		if err != nil {
			tr.logger().WarnContext(ctx, "retry discarded", "error", err)
			return t
		}
		e.metrics.TaskFailed(tr.info(), te.Code, true, elapsed)
		tr.logger().WarnContext(ctx, "task failed; retrying", "error", te.Message, "code", te.Code, "retry_in", delay)
		if delay <= 0 {
			e.publish(ctx, readyEvent(t.Queue, t.StepName))
		} else {
			e.noteDue(runAt)
		}
		t.State, t.LastError, t.ScheduledFor = domain.TaskPending, te, &runAt
		return t
	}
	reason := "non-retryable error"
	if retryable {
		reason = fmt.Sprintf("failed after %d attempts", t.Attempt)
	}
	err := w.retryWrite(ctx, tr, func(now time.Time) error {
		return e.store.FailTask(ctx, ports.FailParams{Fence: tr.fence(), Error: te, Reason: reason, Now: now})
	})
	if err != nil {
		tr.logger().WarnContext(ctx, "failure discarded", "error", err)
		return t
	}
	e.metrics.TaskFailed(tr.info(), te.Code, false, elapsed)
	e.metrics.DeadLettered(tr.info(), te.Code)
	tr.logger().WarnContext(ctx, "task failed; dead-lettered", "error", te.Message, "code", te.Code, "reason", reason)
	t.State, t.Error = domain.TaskFailed, te
	evs := []domain.Event{taskEvent(t)}
	if t.IsRoot() {
		evs = append(evs, executionEvent(t.ExecutionID, domain.ExecutionFailed))
	} else {
		// The failure may have woken a parked parent.
		evs = append(evs, readyEvent("", ""))
	}
	e.publish(ctx, evs...)
	return t
}

// retryWrite runs a fenced write of the run (a checkpoint, a park, a
// finishing write), retrying transient errors with backoff until the lease
// expires (SPEC §12: such writes retry until the lease expires, then are
// discarded), ctx ends or the worker stops. Errors that another try cannot
// change (ErrLeaseLost, bad input, a conflict, a closed store) end it at
// once.
func (w *Worker) retryWrite(ctx context.Context, tr *taskRun, write func(now time.Time) error) error {
	e := w.e
	backoff := 50 * time.Millisecond
	for {
		err := write(e.now())
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if !e.clock.Now().Before(tr.lease()) {
			return fmt.Errorf("%w: giving up after the lease expired: %v", ErrLeaseLost, err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-w.stopped:
			timer.Stop()
			return err
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// transient reports an error another try of the same write may not meet
// (the store unreachable, a driver error), as opposed to an answer.
func transient(err error) bool {
	for _, final := range []error{ErrLeaseLost, ErrClosed, ErrInvalidArgument, ErrInvalidTransition, ErrConflict,
		ErrNotFound, ErrExecutionFinished, ErrNonDeterministic, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

// canInline reports whether a child call of def may run inline in the
// calling task's goroutine: this worker runs it (function, queue, tags)
// and nothing about it needs the shared claim path (no concurrency limit,
// no idempotency link, no cache entry to write).
func (w *Worker) canInline(def *funcDef) bool {
	if w.e.cfg.NoInlineSteps || def.maxConcurrent > 0 || def.idempotent || def.cached {
		return false
	}
	if !slices.Contains(w.opts.Functions, def.name) {
		return false
	}
	if len(w.opts.Queues) > 0 && !slices.Contains(w.opts.Queues, def.queue) {
		return false
	}
	if len(w.opts.Tags) > 0 && len(def.tags) > 0 &&
		!slices.ContainsFunc(def.tags, func(t string) bool { return slices.Contains(w.opts.Tags, t) }) {
		return false
	}
	return w.State() == WorkerReady
}
