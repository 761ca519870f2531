package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// StepRef names a top-level step of a workflow body, from 1: step n is
// the n-th call the body made (the "#" column of `stent show`). Build it
// with FromStep.
type StepRef struct{ n int }

// FromStep names step n (from 1) as the first step a Fork or Reset runs
// again; the steps before it keep their results and never run again.
func FromStep(n int) StepRef { return StepRef{n: n} }

// Step returns the step number.
func (s StepRef) Step() int { return s.n }

// ForkOption configures a Fork.
type ForkOption interface{ applyFork(*forkOptions) }

type forkOptions struct {
	input    any
	hasInput bool
}

type forkOptionFunc func(*forkOptions)

func (f forkOptionFunc) applyFork(o *forkOptions) { f(o) }

// WithForkInput gives the fork a new input (encoded as JSON; a
// json.RawMessage is used as it is) instead of the source's. Steps the
// fork keeps still return their recorded results: only the steps that
// run again see the new input.
func WithForkInput(v any) ForkOption {
	return forkOptionFunc(func(o *forkOptions) { o.input, o.hasInput = v, true })
}

// Fork creates a new execution of the same workflow from execution id:
// the top-level steps before from are copied with their results (they
// never run again), and the body runs again from step from with the code
// registered now (the repair of a run after a code fix, or a what-if with
// WithForkInput). The source is left as it is and may be in any state;
// the fork records it (Execution.ForkedFrom). The fork gets the source's
// routing and tags, its time limit again from now, a copy of its
// counters and custom state (not rolled back: operations of the steps
// that run again are applied again) and of its mailbox (messages the
// copied steps received stay received; the others wait for the fork's
// waits). It returns the new execution's id.
//
// Errors: ErrNotFound for an unknown id; ErrInvalidArgument for a step
// below 1 or beyond the recorded steps + 1, a step before from that did
// not complete (only results can be kept), or an input that does not
// encode.
func (e *Engine) Fork(ctx context.Context, id string, from StepRef, opts ...ForkOption) (string, error) {
	if err := e.checkOpen(); err != nil {
		return "", err
	}
	var o forkOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyFork(&o)
		}
	}
	now := e.now()
	p := ports.ForkParams{SourceID: id, FromStep: from.n, NewID: domain.NewTimeID(now), NewRootID: domain.NewTimeID(now), Now: now}
	if o.hasInput {
		raw, err := encodeForkInput(o.input)
		if err != nil {
			return "", fmt.Errorf("stent: fork execution %q: %w", id, err)
		}
		if len(raw) > e.cfg.MaxPayloadBytes {
			return "", fmt.Errorf("stent: fork execution %q: %w: input is %d bytes; the limit is %d", id, ErrPayloadTooLarge, len(raw), e.cfg.MaxPayloadBytes)
		}
		p.Input = raw
	}
	ex, err := e.store.ForkExecution(ctx, p)
	if err != nil {
		return "", fmt.Errorf("stent: fork execution %q from step %d: %w", id, from.n, err)
	}
	e.hints.Publish(ctx, hint.Ready(ex.Queue, ex.RootFunction), hint.Execution(ex.ID, ex.State))
	e.log.InfoContext(ctx, "execution forked", "execution_id", ex.ID, "forked_from", id, "from_step", from.n)
	return ex.ID, nil
}

func encodeForkInput(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return json.RawMessage("null"), nil
		}
		if !json.Valid(raw) {
			return nil, domain.InvalidArgument("fork input is not valid JSON")
		}
		return raw, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, domain.InvalidArgument("fork input %T does not encode as JSON: %v", v, err)
	}
	return raw, nil
}

// Reset re-runs the failed, timed-out or cancelled execution id from
// step from, under the same id: the top-level steps before from keep
// their results and never run again; step from and every later step
// (with everything they started) are deleted with their dead letters and
// run again with the code registered now. Messages the deleted steps had
// received go back to the mailbox, so a wait that runs again receives
// them again. The execution becomes pending with its time limit again
// from now. Counters and custom state are not rolled back: operations of
// the steps that run again are applied again.
//
// Errors: ErrNotFound for an unknown id; ErrInvalidTransition naming the
// state for a pending, running or completed execution (fork a completed
// one); ErrInvalidArgument for a step below 1 or beyond the recorded
// steps + 1, or a step before from that did not complete.
func (e *Engine) Reset(ctx context.Context, id string, from StepRef) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	ex, err := e.store.ResetExecution(ctx, ports.ResetParams{ID: id, FromStep: from.n, Now: e.now()})
	if err != nil {
		return fmt.Errorf("stent: reset execution %q from step %d: %w", id, from.n, err)
	}
	e.hints.Publish(ctx, hint.Ready(ex.Queue, ex.RootFunction), hint.Execution(ex.ID, ex.State))
	e.log.InfoContext(ctx, "execution reset", "execution_id", id, "from_step", from.n)
	return nil
}
