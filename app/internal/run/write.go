package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stenthq/stent/domain"
)

// retryWrite runs a fenced write of the run (a checkpoint, a park, a
// finishing write) or a read the run cannot go on without (its recorded
// steps), retrying transient errors with backoff until the lease
// expires (SPEC §12: such writes retry until the lease expires, then are
// discarded), ctx ends or the worker stops. Errors that another try cannot
// change (ErrLeaseLost, bad input, a conflict, a closed store) end it at
// once.
func (r *Run) retryWrite(ctx context.Context, write func(now time.Time) error) error {
	env := r.env
	backoff := 50 * time.Millisecond
	for {
		err := write(env.Now())
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if !env.Clock.Now().Before(r.Lease()) {
			return fmt.Errorf("%w: giving up after the lease expired: %v", domain.ErrLeaseLost, err)
		}
		timer := env.Pace.NewTimer(backoff)
		select {
		case <-timer.C():
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-r.host.Stopped():
			timer.Stop()
			return err
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// transient reports an error another try of the same write may not meet
// (the store unreachable, a driver error), as opposed to an answer.
func transient(err error) bool {
	for _, final := range []error{domain.ErrLeaseLost, domain.ErrClosed, domain.ErrInvalidArgument,
		domain.ErrInvalidTransition, domain.ErrConflict, domain.ErrNotFound, domain.ErrExecutionFinished,
		domain.ErrNonDeterministic, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

// writeErr explains a failed fenced write: when the task's own context has
// ended, that cause wins (the write failed because of it).
func (r *Run) writeErr(ctx context.Context, err error) error {
	if cause := context.Cause(r.ctx); cause != nil && r.ctx.Err() != nil {
		return cause
	}
	if errors.Is(err, domain.ErrLeaseLost) {
		// The fence failed: find out why (cancelled, timed out or really
		// lost) so the function sees the true cause, then stop the run.
		cause := r.whyLost(ctx)
		r.cancel(cause)
		return cause
	}
	return err
}

// whyLost reads the task and its execution after a fenced write failed and
// returns ErrCancelled, ErrTimedOut or ErrLeaseLost.
func (r *Run) whyLost(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	t, err := r.env.Store.GetTask(ctx, r.task.ID)
	if err != nil {
		return domain.ErrLeaseLost
	}
	var es domain.ExecutionState
	if ex, err := r.env.Store.GetExecution(ctx, t.ExecutionID); err == nil {
		es = ex.State
	}
	if t.State == domain.TaskRunning && t.ClaimToken != r.task.ClaimToken {
		return domain.ErrLeaseLost // another worker holds it now
	}
	return LostCause(t.State, es)
}

// LostCause is why a run lost its claim, from the states of its task and
// execution: ErrTimedOut, ErrCancelled or ErrLeaseLost.
func LostCause(ts domain.TaskState, es domain.ExecutionState) error {
	switch {
	case es == domain.ExecutionTimedOut:
		return domain.ErrTimedOut
	case ts == domain.TaskCancelled || es == domain.ExecutionCancelled:
		return domain.ErrCancelled
	}
	return domain.ErrLeaseLost
}

// CtxErr returns the cause of the task context's end (ErrCancelled,
// ErrLeaseLost, ErrTimedOut) in place of a bare context error.
func CtxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}
