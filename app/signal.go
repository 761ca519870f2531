package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// SignalOption configures WaitForSignal.
type SignalOption interface{ applySignal(*signalOptions) }

type signalOptions struct {
	timeout    time.Duration
	timeoutSet bool
}

type signalOptionFunc func(*signalOptions)

func (f signalOptionFunc) applySignal(o *signalOptions) { f(o) }

// WithSignalTimeout makes WaitForSignal give up when no signal has arrived
// d after the wait first began (d > 0; else the wait fails with
// ErrInvalidArgument). The deadline is stored with the wait's step, so it
// holds across re-runs and while the run is parked (a parked wait wakes at
// the deadline). The timed-out wait returns an error matching
// ErrSignalTimeout (and ErrExpired, ErrDeadline); the outcome is recorded,
// so a re-run gets the same error, and a signal sent later is kept for the
// next wait of that name. A signal that arrives first wins.
func WithSignalTimeout(d time.Duration) SignalOption {
	return signalOptionFunc(func(o *signalOptions) { o.timeout, o.timeoutSet = d, true })
}

// WaitForSignal waits for the next signal called name sent to the running
// execution and decodes its payload into T. Each wait consumes exactly one
// message, oldest first (a FIFO mailbox per name); a signal sent before the
// wait is buffered. A re-run of the task gets the same payload again
// without consuming another message. The task gives its slot back while it
// waits. Outside a task it returns ErrNotInTask; a payload that does not
// decode into T is ErrSerialization. WithSignalTimeout bounds the wait
// (ErrSignalTimeout).
func WaitForSignal[T any](ctx context.Context, name string, opts ...SignalOption) (T, error) {
	var zero T
	r := run.From(ctx)
	if r == nil {
		return zero, ErrNotInTask
	}
	if err := domain.ValidateName("signal name", name); err != nil {
		return zero, err
	}
	var o signalOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applySignal(&o)
		}
	}
	if o.timeoutSet && o.timeout <= 0 {
		return zero, domain.InvalidArgument("signal %q: timeout %s; must be positive", name, o.timeout)
	}
	defer r.Enter()()
	raw, err := r.WaitSignal(ctx, name, o.timeout)
	if err != nil {
		return zero, err
	}
	return durable.Decode[T](fmt.Sprintf("the payload of signal %q", name), raw)
}

// SendSignal appends payload (JSON-encoded) to the execution's mailbox for
// name and wakes the oldest wait for it. It returns ErrNotFound for an
// unknown execution and ErrExecutionFinished for a finished one; neither
// stores anything.
func (e *Engine) SendSignal(ctx context.Context, executionID, name string, payload any) error {
	raw, err := durable.Encode(payload, e.cfg.MaxPayloadBytes)
	if err != nil {
		return err
	}
	return e.SendSignalJSON(ctx, executionID, name, raw)
}

// SendSignalJSON is SendSignal with an already-encoded payload, which must
// be valid JSON.
func (e *Engine) SendSignalJSON(ctx context.Context, executionID, name string, payload json.RawMessage) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := domain.ValidateName("signal name", name); err != nil {
		return err
	}
	if !json.Valid(payload) {
		return domain.InvalidArgument("signal %q: payload is not valid JSON", name)
	}
	if len(payload) > e.cfg.MaxPayloadBytes {
		return fmt.Errorf("%w: signal %q payload is %d bytes; the limit is %d", ErrPayloadTooLarge, name, len(payload), e.cfg.MaxPayloadBytes)
	}
	delivered, err := e.store.SendSignal(ctx, executionID, name, payload, e.now())
	if err != nil {
		return fmt.Errorf("stent: signal %q to execution %q: %w", name, executionID, err)
	}
	if delivered != nil {
		// The waiting run, in memory or parked (then the delivery woke it:
		// a ready hint lets a worker resume it at once).
		e.hints.Publish(ctx, hint.Task(*delivered), hint.Ready("", ""))
	}
	return nil
}

// Signals returns the execution's signal messages ordered by name, then
// sequence number; a message with an empty ConsumedBy is still pending
// (no wait has received it). A message is named by (execution, name, seq):
// the key DiscardSignal takes. It needs a store that implements
// ports.Inspector (every store of this repository does); otherwise
// ErrInvalidArgument.
func (e *Engine) Signals(ctx context.Context, executionID string) ([]domain.Signal, error) {
	insp, ok := e.store.(ports.Inspector)
	if !ok {
		return nil, domain.InvalidArgument("signals of execution %q: the store %T cannot list signals", executionID, e.store)
	}
	out, err := insp.ListSignals(ctx, executionID)
	if err != nil {
		return nil, fmt.Errorf("stent: signals of execution %q: %w", executionID, err)
	}
	return out, nil
}

// DiscardSignal deletes the pending message seq (from 1, see Signals) of
// the execution's mailbox for name, so no wait ever receives it: the
// repair of a signal whose payload would fail the workflow, before the
// workflow consumes it. It returns the discarded message. It is atomic:
// a message consumed first is kept and the call fails with ErrConflict
// (a consumed message is history; Fork or Reset the run instead);
// ErrNotFound for an unknown execution or message; ErrInvalidArgument for
// a bad id, name or seq. Other messages keep their sequence numbers.
func (e *Engine) DiscardSignal(ctx context.Context, executionID, name string, seq int64) (domain.Signal, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Signal{}, err
	}
	msg, err := e.store.DiscardSignal(ctx, executionID, name, seq)
	if err != nil {
		return domain.Signal{}, fmt.Errorf("stent: discard signal %q #%d of execution %q: %w", name, seq, executionID, err)
	}
	return msg, nil
}
