package app

import (
	"context"
	"sync"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
	"github.com/stenthq/stent/ports"
)

// LocalNotifier is the in-process Notifier: the default when none is
// configured. It serves a single process (the embedded SQLite case, or
// tests); processes sharing a database need a networked notifier to hear
// each other, and otherwise fall back to polling.
type LocalNotifier struct {
	mu  sync.RWMutex
	fan *notifycore.Fanout
}

var _ ports.Notifier = (*LocalNotifier)(nil)

// NewLocalNotifier returns an in-process notifier.
func NewLocalNotifier() *LocalNotifier {
	n := &LocalNotifier{}
	n.fan = notifycore.NewFanout(&n.mu, notifycore.Options{Buffer: localSubBuffer})
	return n
}

// localSubBuffer is how many events a subscriber may have pending. When
// the buffer is full the oldest event is replaced by an EventReset, which
// tells the subscriber it missed events and should re-read everything.
const localSubBuffer = 32

// Publish delivers ev to the subscribers of ev.Topic without blocking.
func (n *LocalNotifier) Publish(_ context.Context, ev domain.Event) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.fan.Closed() {
		return ErrClosed
	}
	n.fan.Deliver(ev)
	return nil
}

// Subscribe registers a subscription to topics; it is active on return.
func (n *LocalNotifier) Subscribe(_ context.Context, topics ...domain.Topic) (ports.Subscription, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, _, err := n.fan.Subscribe(topics)
	if err != nil {
		return nil, err // ErrClosed
	}
	return s, nil
}

// Close ends every subscription. Idempotent.
func (n *LocalNotifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fan.Close()
	return nil
}
