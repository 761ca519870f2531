package worker

import (
	"context"
	"errors"
	"slices"

	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// heartbeatLoop renews the leases of every run of the worker (waiting ones
// included) in one batch per interval, on the pacing clock.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := w.pace.NewTicker(w.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			w.heartbeat(ctx)
		}
	}
}

// heartbeat renews the leases once. A lease found gone cancels the run:
// with ErrCancelled when the task or execution was cancelled, ErrTimedOut
// when the execution timed out, else ErrLeaseLost. When renewals keep
// failing, a run whose lease has expired is cancelled with ErrLeaseLost.
func (w *Worker) heartbeat(ctx context.Context) {
	env := w.env.Run
	runs := w.activeRuns()
	if len(runs) == 0 {
		return
	}
	fences := make([]domain.Fence, len(runs))
	for i, r := range runs {
		fences[i] = r.Fence()
	}
	statuses, err := env.Store.RenewLeases(ctx, fences, env.Now(), w.opts.LeaseDuration)
	if err != nil {
		now := env.Clock.Now()
		for _, r := range runs {
			if !now.Before(r.Lease()) {
				r.Logger().WarnContext(ctx, "lease expired while the store was unreachable", "error", err)
				r.Cancel(domain.ErrLeaseLost)
			}
		}
		return
	}
	for i, st := range statuses {
		r := runs[i]
		if st.Held {
			r.SetLease(st.LeaseExpiresAt)
			env.Metrics.LeaseRenewed(r.Info())
			continue
		}
		r.Cancel(run.LostCause(st.TaskState, st.ExecState))
	}
}

// eventLoop reacts to notifications: a ready event wakes the claim loop, a
// cancel event cancels the runs of that execution once the store confirms
// it is over (events are only hints). It owns sub: when there is none (the
// notifier was down when the worker started) or its channel closes, it
// subscribes again with backoff (PollInterval doubling up to
// PollIntervalMax) and pokes the claim loop once it has, since events may
// have been missed meanwhile. It stops retrying when the notifier is closed.
func (w *Worker) eventLoop(ctx context.Context, sub ports.Subscription) {
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	retry := w.opts.PollInterval
	for {
		if sub == nil {
			timer := w.pace.NewTimer(retry)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C():
			}
			retry = min(retry*2, w.opts.PollIntervalMax)
			s, err := w.env.Run.Hints.Notifier.Subscribe(ctx, domain.TopicReady, domain.TopicCancel)
			if errors.Is(err, domain.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			sub, retry = s, w.opts.PollInterval
			w.Poke()
		}
		if !w.handleEvents(ctx, sub.Events()) {
			return
		}
		_ = sub.Close() // the channel closed: subscribe again
		sub = nil
	}
}

// handleEvents handles events until ctx ends (false) or the channel
// closes (true).
func (w *Worker) handleEvents(ctx context.Context, events <-chan domain.Event) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-events:
			if !ok {
				return true
			}
			switch ev.Kind {
			case domain.EventCancel:
				w.cancelExecution(ctx, ev.ExecutionID)
			case domain.EventReset:
				w.Poke()
			default:
				if w.wants(ev) {
					w.Poke()
				}
			}
		}
	}
}

// wants reports whether a ready event may concern this worker.
func (w *Worker) wants(ev domain.Event) bool {
	if ev.Function != "" && !slices.Contains(w.opts.Functions, ev.Function) {
		return false
	}
	if ev.Queue != "" && len(w.opts.Queues) > 0 && !slices.Contains(w.opts.Queues, ev.Queue) {
		return false
	}
	return true
}

// cancelExecution cancels the runs of an execution the store says is
// over: ErrTimedOut for a timed-out one, else ErrCancelled.
func (w *Worker) cancelExecution(ctx context.Context, executionID string) {
	var victims []*run.Run
	for _, r := range w.activeRuns() {
		if r.Task().ExecutionID == executionID {
			victims = append(victims, r)
		}
	}
	if len(victims) == 0 {
		return
	}
	ex, err := w.env.Run.Store.GetExecution(ctx, executionID)
	if err != nil || !ex.State.Terminal() {
		return
	}
	cause := domain.ErrCancelled
	if ex.State == domain.ExecutionTimedOut {
		cause = domain.ErrTimedOut
	}
	for _, r := range victims {
		r.Cancel(cause)
	}
}
