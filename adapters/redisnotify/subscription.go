package redisnotify

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
)

// subscription is one local subscriber. Its channel is written only by the
// notifier's reader goroutine (under Notifier.mu read-locked) and closed
// under Notifier.mu write-locked, so a send never meets a closed channel.
type subscription struct {
	n        *Notifier
	channels []string // full Redis channel names, deduplicated
	ch       chan domain.Event
	closed   bool // guarded by n.mu
}

// Events delivers the subscribed events, plus EventReset after a
// connection loss, a reconnection or an overflow. Closed by Close.
func (s *subscription) Events() <-chan domain.Event { return s.ch }

// Close ends the subscription; the last local subscriber of a channel
// unsubscribes it on the connection. Idempotent.
func (s *subscription) Close() error {
	n := s.n
	n.mu.Lock()
	if s.closed {
		n.mu.Unlock()
		return nil
	}
	gone := n.removeLocked(s)
	g := n.gen
	var err error
	if g != nil && g.alive() && len(gone) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
		err = g.ps.Unsubscribe(ctx, gone...)
		cancel()
	}
	n.mu.Unlock()
	if err != nil {
		// The connection is broken: drop it; the reconnection subscribes
		// only the channels still wanted.
		g.kill(err)
	}
	return nil
}

// removeLocked unregisters s, closes its channel and returns the channels
// no local subscriber wants any more. n.mu must be held.
func (n *Notifier) removeLocked(s *subscription) (gone []string) {
	s.closed = true
	close(s.ch)
	delete(n.subs, s)
	for _, c := range s.channels {
		set := n.channels[c]
		delete(set, s)
		if len(set) == 0 {
			delete(n.channels, c)
			gone = append(gone, c)
		}
	}
	return gone
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
