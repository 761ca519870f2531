package pgnotify

import (
	"time"

	"github.com/stenthq/stent/domain"
)

// subscription is one local subscriber. Its channel is written only by the
// reader goroutine (under Notifier.mu read-locked) and closed under
// Notifier.mu write-locked, so a send never meets a closed channel.
type subscription struct {
	n        *Notifier
	topics   []domain.Topic // deduplicated
	channels []string       // their PostgreSQL channels, deduplicated
	ch       chan domain.Event
	closed   bool // guarded by n.mu
}

// Events delivers the subscribed events, plus EventReset after a
// connection loss, a reconnection or an overflow. Closed by Close.
func (s *subscription) Events() <-chan domain.Event { return s.ch }

// Close ends the subscription. A channel no subscription wants any more
// is unlistened at the reader's next idle health check. Idempotent.
func (s *subscription) Close() error {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.ch)
	delete(n.subs, s)
	for _, t := range s.topics {
		set := n.topics[t]
		delete(set, s)
		if len(set) == 0 {
			delete(n.topics, t)
		}
	}
	for _, c := range s.channels {
		if n.wanted[c]--; n.wanted[c] <= 0 {
			delete(n.wanted, c)
		}
	}
	return nil
}

// deliver hands ev to s without blocking. When s's buffer is full the
// oldest pending event is replaced by an EventReset, which tells the
// subscriber it missed events and should re-read everything. Only the
// reader goroutine delivers, with n.mu read-locked.
func (s *subscription) deliver(ev domain.Event) {
	select {
	case s.ch <- ev:
		return
	default:
	}
	select {
	case <-s.ch:
	default:
	}
	select {
	case s.ch <- resetEvent():
	default:
	}
}

func resetEvent() domain.Event {
	return domain.Event{V: domain.EventVersion, Kind: domain.EventReset, At: time.Now().UTC()}
}
