package app

import (
	"context"
	"sync"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// LocalNotifier is the in-process Notifier: the default when none is
// configured. It serves a single process (the embedded SQLite case, or
// tests); processes sharing a database need a networked notifier to hear
// each other, and otherwise fall back to polling.
type LocalNotifier struct {
	mu     sync.RWMutex
	subs   map[domain.Topic]map[*localSub]struct{}
	closed bool
}

var _ ports.Notifier = (*LocalNotifier)(nil)

// NewLocalNotifier returns an in-process notifier.
func NewLocalNotifier() *LocalNotifier {
	return &LocalNotifier{subs: map[domain.Topic]map[*localSub]struct{}{}}
}

// localSubBuffer is how many events a subscriber may have pending. When
// the buffer is full the oldest event is replaced by an EventReset, which
// tells the subscriber it missed events and should re-read everything.
const localSubBuffer = 32

type localSub struct {
	n      *LocalNotifier
	topics []domain.Topic
	ch     chan domain.Event
	once   sync.Once
}

// Publish delivers ev to the subscribers of ev.Topic without blocking.
func (n *LocalNotifier) Publish(_ context.Context, ev domain.Event) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	for s := range n.subs[ev.Topic] {
		select {
		case s.ch <- ev:
		default:
			select { // full: drop the oldest, then say events were missed
			case <-s.ch:
			default:
			}
			select {
			case s.ch <- domain.Event{V: domain.EventVersion, Kind: domain.EventReset, Topic: ev.Topic, At: ev.At}:
			default:
			}
		}
	}
	return nil
}

// Subscribe registers a subscription to topics; it is active on return.
func (n *LocalNotifier) Subscribe(_ context.Context, topics ...domain.Topic) (ports.Subscription, error) {
	s := &localSub{n: n, topics: append([]domain.Topic(nil), topics...), ch: make(chan domain.Event, localSubBuffer)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	for _, t := range s.topics {
		m := n.subs[t]
		if m == nil {
			m = map[*localSub]struct{}{}
			n.subs[t] = m
		}
		m[s] = struct{}{}
	}
	return s, nil
}

// Close ends every subscription. Idempotent.
func (n *LocalNotifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	seen := map[*localSub]bool{}
	for _, m := range n.subs {
		for s := range m {
			if !seen[s] {
				seen[s] = true
				s.once.Do(func() { close(s.ch) })
			}
		}
	}
	n.subs = nil
	return nil
}

func (s *localSub) Events() <-chan domain.Event { return s.ch }

func (s *localSub) Close() error {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range s.topics {
		if m := n.subs[t]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(n.subs, t)
			}
		}
	}
	s.once.Do(func() { close(s.ch) })
	return nil
}
