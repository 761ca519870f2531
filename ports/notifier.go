package ports

import (
	"context"

	"github.com/stenthq/stent/domain"
)

// Notifier carries low-latency hints between processes: task finished,
// execution changed, work ready, execution cancelled. Events are hints: a
// lost event only costs latency, so every waiter keeps a polling safety net.
type Notifier interface {
	// Publish sends ev on ev.Topic (events are published after the store
	// commit that caused them). An error means the hint was not sent; the
	// caller logs it and carries on.
	Publish(ctx context.Context, ev domain.Event) error
	// Subscribe returns once the subscription to every topic is active, so
	// an event published after Subscribe returns is delivered. Waiters
	// subscribe first, then read the store, then wait. It fails with
	// ErrUnavailable when the backend cannot be reached (callers poll) and
	// ErrClosed after Close.
	Subscribe(ctx context.Context, topics ...domain.Topic) (Subscription, error)
	// Close releases the notifier's connections; subscriptions' channels are
	// closed. Idempotent.
	Close() error
}

// Subscription is a live subscription. Delivery never blocks the notifier:
// a slow subscriber may miss events (it is told with an EventReset).
type Subscription interface {
	// Events delivers the subscribed events, plus EventReset after a
	// connection loss or reconnection. Closed by Close.
	Events() <-chan domain.Event
	// Close ends the subscription. Idempotent.
	Close() error
}

// NotifierHealth is implemented by notifiers whose backend can fail (Redis,
// PostgreSQL). Readiness reports a degraded notifier without failing: the
// engine polls meanwhile.
type NotifierHealth interface {
	// Health returns nil while the notifier is connected and subscribed,
	// else why not.
	Health() error
}
