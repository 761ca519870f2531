package app

import (
	"context"
	"errors"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// heartbeatLoop renews the leases of every run of the worker (waiting ones
// included) in one batch per interval. A lease found gone cancels the run:
// with ErrCancelled when the task or execution was cancelled, ErrTimedOut
// when the execution timed out, else ErrLeaseLost. When renewals keep
// failing, a run whose lease has expired is cancelled with ErrLeaseLost.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(w.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.heartbeat(ctx)
		}
	}
}

func (w *Worker) heartbeat(ctx context.Context) {
	e := w.e
	runs := w.activeRuns()
	if len(runs) == 0 {
		return
	}
	fences := make([]domain.Fence, len(runs))
	for i, tr := range runs {
		fences[i] = tr.fence()
	}
	statuses, err := e.store.RenewLeases(ctx, fences, e.now(), w.opts.LeaseDuration)
	if err != nil {
		now := e.clock.Now()
		for _, tr := range runs {
			if !now.Before(tr.lease()) {
				tr.logger().WarnContext(ctx, "lease expired while the store was unreachable", "error", err)
				tr.cancel(ErrLeaseLost)
			}
		}
		return
	}
	for i, st := range statuses {
		tr := runs[i]
		if st.Held {
			tr.setLease(st.LeaseExpiresAt)
			e.metrics.LeaseRenewed(tr.info())
			continue
		}
		tr.cancel(lostCause(st.TaskState, st.ExecState))
	}
}

func lostCause(ts domain.TaskState, es domain.ExecutionState) error {
	switch {
	case es == domain.ExecutionTimedOut:
		return ErrTimedOut
	case ts == domain.TaskCancelled || es == domain.ExecutionCancelled:
		return ErrCancelled
	}
	return ErrLeaseLost
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
			timer := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			retry = min(retry*2, w.opts.PollIntervalMax)
			s, err := w.e.notifier.Subscribe(ctx, domain.TopicReady, domain.TopicCancel)
			if errors.Is(err, ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			sub, retry = s, w.opts.PollInterval
			w.poke()
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
				w.poke()
			default:
				if w.wants(ev) {
					w.poke()
				}
			}
		}
	}
}

// wants reports whether a ready event may concern this worker.
func (w *Worker) wants(ev domain.Event) bool {
	if ev.Function != "" && !containsString(w.opts.Functions, ev.Function) {
		return false
	}
	if ev.Queue != "" && len(w.opts.Queues) > 0 && !containsString(w.opts.Queues, ev.Queue) {
		return false
	}
	return true
}

func (w *Worker) cancelExecution(ctx context.Context, executionID string) {
	var victims []*taskRun
	for _, tr := range w.activeRuns() {
		if tr.task.ExecutionID == executionID {
			victims = append(victims, tr)
		}
	}
	if len(victims) == 0 {
		return
	}
	ex, err := w.e.store.GetExecution(ctx, executionID)
	if err != nil || !ex.State.Terminal() {
		return
	}
	cause := lostCause("", ex.State)
	if ex.State != domain.ExecutionTimedOut {
		cause = ErrCancelled
	}
	for _, tr := range victims {
		tr.cancel(cause)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
