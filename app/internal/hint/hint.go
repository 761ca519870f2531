// Package hint sends and receives the engine's notifications. They are
// hints only: every waiter also polls, so a lost or failed notification
// delays work and never loses it. It also keeps the earliest known future
// due time (Due), so idle workers wake for it.
package hint

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Ready says work may be claimable in queue for function (empty: any).
func Ready(queue, function string) domain.Event {
	return domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, Queue: queue, Function: function}
}

// Task says task t changed.
func Task(t domain.Task) domain.Event {
	return domain.Event{Kind: domain.EventTask, Topic: domain.TaskTopic(t.ID), ID: t.ID,
		ExecutionID: t.ExecutionID, State: string(t.State), Queue: t.Queue, Function: t.StepName}
}

// Execution says execution id reached state.
func Execution(id string, state domain.ExecutionState) domain.Event {
	return domain.Event{Kind: domain.EventExecution, Topic: domain.ExecutionTopic(id), ID: id,
		ExecutionID: id, State: string(state)}
}

// Completed says execution id completed with result; the event carries
// the result when it is small enough (domain.MaxEventResultBytes), so a
// waiter needs no store read.
func Completed(id string, result []byte) domain.Event {
	ev := Execution(id, domain.ExecutionCompleted)
	if len(result) > 0 && len(result) <= domain.MaxEventResultBytes {
		ev.Result = string(result)
	}
	return ev
}

// Cancel says execution id was cancelled or timed out.
func Cancel(id string) domain.Event {
	return domain.Event{Kind: domain.EventCancel, Topic: domain.TopicCancel, ID: id, ExecutionID: id}
}

// Publisher publishes and subscribes through the notifier. A failure is
// logged once (until the notifier works again) and never fails the
// caller.
type Publisher struct {
	Notifier ports.Notifier
	Log      *slog.Logger
	Now      func() time.Time

	failed atomic.Bool // a notifier failure was logged already
}

// Publish sends hints after a commit.
func (p *Publisher) Publish(ctx context.Context, evs ...domain.Event) {
	for _, ev := range evs {
		ev.V = domain.EventVersion
		if ev.At.IsZero() {
			ev.At = p.Now()
		}
		if err := p.Notifier.Publish(context.WithoutCancel(ctx), ev); err != nil {
			if !p.failed.Swap(true) && !errors.Is(err, domain.ErrClosed) {
				p.Log.WarnContext(ctx, "notifier publish failed; waiters fall back to polling", "error", err)
			}
			continue
		}
		p.failed.Store(false)
	}
}

// Subscribe subscribes to topics; on failure it logs once and returns a
// nil subscription, and the caller polls.
func (p *Publisher) Subscribe(ctx context.Context, topics ...domain.Topic) ports.Subscription {
	sub, err := p.Notifier.Subscribe(ctx, topics...)
	if err != nil {
		if !p.failed.Swap(true) && !errors.Is(err, domain.ErrClosed) && ctx.Err() == nil {
			p.Log.WarnContext(ctx, "notifier subscribe failed; polling instead", "error", err)
		}
		return nil
	}
	return sub
}

// Announce publishes one ready hint per (queue, function) of the records
// that are claimable, pending and due at now.
func (p *Publisher) Announce(ctx context.Context, now time.Time, recs []domain.Task) {
	var evs []domain.Event
	seen := map[[2]string]bool{}
	for _, r := range recs {
		if r.State != domain.TaskPending || !r.Kind.Claimable() || !r.Due(now) {
			continue
		}
		k := [2]string{r.Queue, r.StepName}
		if !seen[k] {
			seen[k] = true
			evs = append(evs, Ready(r.Queue, r.StepName))
		}
	}
	p.Publish(ctx, evs...)
}

// Due remembers the earliest known future due time (a delayed dispatch, a
// retry backoff, a parked sleep) so idle workers wake for it instead of
// waiting a full poll interval.
type Due struct {
	mu   sync.Mutex
	next time.Time
}

// Note records t; it reports whether t is earlier than the time known so
// far (then the workers should look again).
func (d *Due) Note(t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.next.IsZero() && !t.Before(d.next) {
		return false
	}
	d.next = t
	return true
}

// In returns how long from now until the earliest known due time,
// clearing it once passed (then 0, true).
func (d *Due) In(now time.Time) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next.IsZero() {
		return 0, false
	}
	left := d.next.Sub(now)
	if left <= 0 {
		d.next = time.Time{}
		return 0, true
	}
	return left, true
}
