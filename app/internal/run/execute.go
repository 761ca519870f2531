package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ErrReleased is the cause a stopping worker cancels its remaining runs
// with: their tasks are given back at once (it matches ErrLeaseLost).
var ErrReleased = fmt.Errorf("%w: the worker stopped and released the task", domain.ErrLeaseLost)

// errParked is the cause a parked run's context is cancelled with: any
// goroutine of the run still going sees its steps fail, and the run's end
// writes nothing.
var errParked = errors.New("stent: the run parked; it resumes by replay")

// Execute runs a claimed task to its end (SPEC §5.2) and records the
// outcome. The caller took the run's slot; Execute gives it back once the
// body has returned.
func (r *Run) Execute() {
	defer r.end()
	env := r.env
	t := r.task
	ctx := r.ctx
	now := env.Now()

	// 1. An overdue execution is timed out, not run.
	if t.Deadline != nil && !now.Before(*t.Deadline) {
		if err := env.TimeoutExecution(ctx, t.ExecutionID); err != nil {
			r.Logger().WarnContext(ctx, "timing out an overdue execution failed", "error", err)
		}
		return
	}
	// 2. Poison-pill protection: a task whose worker was lost more often
	// than its recovery budget allows (a body that kills its process every
	// time) fails for good. Recoveries never spend attempts.
	if budget := t.RetryPolicy.RecoveryBudget(); t.Recoveries > budget {
		err := domain.Permanent(fmt.Errorf("%w: task recovered %d times after its worker was lost (lease expired or worker declared dead); the recovery budget (RetryPolicy.MaxRecoveries) is %d",
			domain.ErrLeaseLost, t.Recoveries, budget))
		r.finishFailure(err, 0)
		return
	}
	// 3. Resolve the function; a race (catalogue changed) gives it back.
	def, err := env.Lookup(t.StepName)
	if err != nil {
		if rerr := env.Store.ReleaseTask(ctx, r.Fence(), now, true); rerr != nil && !errors.Is(rerr, domain.ErrLeaseLost) {
			r.Logger().WarnContext(ctx, "releasing an unrunnable task failed", "error", rerr)
		}
		env.Hints.Publish(ctx, hint.Ready(t.Queue, t.StepName))
		return
	}
	r.def = def

	// 4. The task context: the execution deadline (cause ErrTimedOut) and
	// cancellation (ErrCancelled, ErrLeaseLost) from the worker.
	if t.Deadline != nil {
		timer := env.Clock.AfterFunc(t.Deadline.Sub(env.Clock.Now()), func() { r.cancel(domain.ErrTimedOut) })
		defer timer.Stop()
	}
	runCtx, carrier, endSpan := env.Trace(r.ctx, r.Info(), t.TraceContext)
	r.trace = carrier
	ended := false
	defer func() {
		if !ended { // the run parked: its goroutine is exiting
			endSpan(nil)
		}
	}()

	// 5. Run the body, recovering panics. A body that parks never returns
	// here (see park.go): the deferred calls end the run.
	started := env.Pace.Now()
	result, runErr := runBody(runCtx, def, t.Input)
	elapsed := env.Pace.Now().Sub(started)
	ended = true
	endSpan(runErr)
	// The slot bounds running user code: give it back before the outcome
	// is written, so the next claim overlaps this completion's write.
	r.host.Slots().GiveBack(&r.slot)

	r.finish(result, runErr, elapsed)
}

// finish is the one end of a run that has a record (claimed, or an inline
// step materialised): nothing is written when its context ended
// (cancelled, lease lost, timed out: the cause decides), else its result
// or its failure (SPEC §5.2 step 7). It returns the record as this worker
// last knows it.
func (r *Run) finish(result json.RawMessage, runErr error, elapsed time.Duration) domain.Task {
	env := r.env
	t := r.task
	ctx := r.ctx
	if r.ctx.Err() != nil {
		switch cause := context.Cause(r.ctx); {
		case errors.Is(cause, domain.ErrTimedOut):
			if err := env.TimeoutExecution(context.WithoutCancel(ctx), t.ExecutionID); err != nil {
				r.Logger().WarnContext(ctx, "timing out the execution failed", "error", err)
			}
		case errors.Is(cause, domain.ErrCancelled):
			env.Metrics.TaskCancelled(r.Info())
			r.Logger().InfoContext(ctx, "task cancelled")
		case errors.Is(cause, errParked):
			// Another goroutine of the run parked it; the replay that
			// resumes it does the rest.
		case errors.Is(cause, ErrReleased):
			r.Logger().InfoContext(ctx, "task released: the worker stopped before it finished")
		default:
			r.Logger().WarnContext(ctx, "lease lost; result discarded", "cause", cause)
		}
		return t
	}
	if runErr == nil && len(result) > env.MaxPayloadBytes {
		runErr = domain.Permanent(fmt.Errorf("%w: the result of %q is %d bytes; the limit is %d",
			domain.ErrPayloadTooLarge, t.StepName, len(result), env.MaxPayloadBytes))
	}
	if runErr != nil {
		return r.finishFailure(runErr, elapsed)
	}
	return r.finishSuccess(result, elapsed)
}

// finishSuccess records the result through the batching completions
// writer, retrying transient store errors until the lease runs out.
func (r *Run) finishSuccess(result json.RawMessage, elapsed time.Duration) domain.Task {
	env := r.env
	t := r.task
	ctx := context.WithoutCancel(r.ctx)
	if result == nil {
		result = json.RawMessage("null")
	}
	ops := r.takeOps()
	var cacheExpires *time.Time
	if t.CacheKey != "" && r.def != nil && r.def.CacheTTL > 0 {
		x := env.Now().Add(r.def.CacheTTL)
		cacheExpires = &x
	}
	lone := t.IsRoot() && r.calls() == 0 && t.CacheKey == "" && t.IdempotencyKey == "" && len(ops) == 0
	err := r.retryWrite(ctx, func(now time.Time) error {
		return env.Completions.Do(ctx, ports.CompleteParams{
			Fence: r.Fence(), Result: result, Ops: ops, CacheExpiresAt: cacheExpires, Now: now, Lone: lone,
		})
	})
	if err != nil {
		r.Logger().WarnContext(ctx, "completion discarded", "error", err)
		return t
	}
	t.State, t.Result = domain.TaskCompleted, result
	env.Metrics.TaskCompleted(r.Info(), elapsed)
	// A root's execution event goes first: its waiters (Await) are the
	// ones a client is timing, and a networked notifier sends the events
	// one round trip after another.
	evs := []domain.Event{hint.Task(t)}
	if t.IsRoot() {
		evs = []domain.Event{hint.Completed(t.ExecutionID, result), hint.Task(t)}
	}
	env.Hints.Publish(ctx, evs...)
	if env.Log.Enabled(ctx, slog.LevelDebug) {
		r.Logger().DebugContext(ctx, "task completed", "duration", elapsed)
	}
	return t
}

// finishFailure retries the task per its stored policy, or fails it
// terminally (dead letter).
func (r *Run) finishFailure(runErr error, elapsed time.Duration) domain.Task {
	env := r.env
	t := r.task
	ctx := context.WithoutCancel(r.ctx)
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
		delay := policy.Delay(t.Attempt, env.Random)
		var runAt time.Time
		err := r.retryWrite(ctx, func(now time.Time) error {
			runAt = now.Add(delay)
			return env.Store.RetryTask(ctx, ports.RetryParams{Fence: r.Fence(), Error: te, RunAt: runAt, Now: now})
		})
		if err != nil {
			r.Logger().WarnContext(ctx, "retry discarded", "error", err)
			return t
		}
		env.Metrics.TaskFailed(r.Info(), te.Code, true, elapsed)
		r.Logger().WarnContext(ctx, "task failed; retrying", "error", te.Message, "code", te.Code, "retry_in", delay)
		if delay <= 0 {
			env.Hints.Publish(ctx, hint.Ready(t.Queue, t.StepName))
		} else {
			env.NoteDue(runAt)
		}
		t.State, t.LastError, t.ScheduledFor = domain.TaskPending, te, &runAt
		return t
	}
	reason := "non-retryable error"
	if retryable {
		reason = fmt.Sprintf("failed after %d attempts", t.Attempt)
	}
	err := r.retryWrite(ctx, func(now time.Time) error {
		return env.Store.FailTask(ctx, ports.FailParams{Fence: r.Fence(), Error: te, Reason: reason, Now: now})
	})
	if err != nil {
		r.Logger().WarnContext(ctx, "failure discarded", "error", err)
		return t
	}
	env.Metrics.TaskFailed(r.Info(), te.Code, false, elapsed)
	env.Metrics.DeadLettered(r.Info(), te.Code)
	r.Logger().WarnContext(ctx, "task failed; dead-lettered", "error", te.Message, "code", te.Code, "reason", reason)
	t.State, t.Error = domain.TaskFailed, te
	evs := []domain.Event{hint.Task(t)}
	if t.IsRoot() {
		evs = []domain.Event{hint.Execution(t.ExecutionID, domain.ExecutionFailed), hint.Task(t)}
	} else {
		// The failure may have woken a parked parent.
		evs = append(evs, hint.Ready("", ""))
	}
	env.Hints.Publish(ctx, evs...)
	return t
}

// invokeSafely runs the function and turns a panic into a stored error
// with code "panic" and the stack.
func invokeSafely(ctx context.Context, def *durable.Func, input json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, domain.NewPanicError(v, debug.Stack())
		}
	}()
	return def.Invoke(ctx, input)
}

// runBody runs a claimed task's function. It marks the task goroutine on
// the stack (see onTaskGoroutine); keep it out of line.
//
//go:noinline
func runBody(ctx context.Context, def *durable.Func, input []byte) ([]byte, error) {
	return invokeSafely(ctx, def, input)
}

// runBodyName is runBody's symbol, looked up once.
var runBodyName = runtime.FuncForPC(reflect.ValueOf(runBody).Pointer()).Name()

// onTaskGoroutine reports whether the calling goroutine runs a task body
// (runBody is on its stack), as opposed to a goroutine user code started.
func onTaskGoroutine() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(1, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == runBodyName {
			return true
		}
		if !more {
			return false
		}
	}
}
