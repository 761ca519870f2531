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
	// 2. Poison-pill protection: only reclaims can push the attempt past
	// the limit.
	if t.Attempt > t.RetryPolicy.MaxAttempts {
		err := domain.Permanent(fmt.Errorf("%w: task reclaimed %d times after its lease expired; the retry policy allows %d attempts",
			ErrLeaseLost, t.Attempt-1, t.RetryPolicy.MaxAttempts))
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

	// 6. Run the body, recovering panics.
	started := time.Now()
	result, runErr := invokeSafely(runCtx, def, t.Input)
	elapsed := time.Since(started)
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
	err := w.untilLeaseEnds(tr, func(now time.Time) error {
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
		err := w.untilLeaseEnds(tr, func(now time.Time) error {
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
	err := w.untilLeaseEnds(tr, func(now time.Time) error {
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
	}
	e.publish(ctx, evs...)
	return t
}

// untilLeaseEnds runs a finishing write, retrying transient errors with
// backoff until the lease expires (SPEC §12: finishing writes retry until
// the lease expires, then are discarded). ErrLeaseLost ends it at once.
func (w *Worker) untilLeaseEnds(tr *taskRun, write func(now time.Time) error) error {
	e := w.e
	backoff := 50 * time.Millisecond
	for {
		err := write(e.now())
		if err == nil || errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrClosed) ||
			errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrInvalidTransition) {
			return err
		}
		if !e.clock.Now().Before(tr.lease()) {
			return fmt.Errorf("%w: giving up after the lease expired: %v", ErrLeaseLost, err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-w.stoppedOrDone():
			timer.Stop()
			return err
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (w *Worker) stoppedOrDone() <-chan struct{} { return w.stopped }

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
