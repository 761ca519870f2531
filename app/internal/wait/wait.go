// Package wait is the engine's one wait loop: subscribe, check the store,
// sleep until an event or a poll tick, check again. Notifications only
// shorten the sleep: with no notifier, or a broken one, polling alone is
// correct. Every timer comes from the pacing clock.
package wait

import (
	"context"
	"errors"
	"time"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Check reads the store and reports whether the wait is over. changed
// lists the ids named by events since the last call; all says everything
// may have changed (first call, poll tick, notifier reset).
type Check func(ctx context.Context, changed []string, all bool) (done bool, err error)

// Park asks Until to give up waiting in memory: after being blocked for
// After, or as soon as Now is closed (the worker drains).
type Park struct {
	After time.Duration
	Now   <-chan struct{}
}

// ErrParkNow ends an in-memory wait that should park.
var ErrParkNow = errors.New("stent: the wait should park")

// Waiter runs waits.
type Waiter struct {
	Hints *hint.Publisher
	// Pace is the clock of the poll timers and the park delay.
	Pace ports.Clock
	// PollInterval is the poll interval the first polls start from (a
	// quarter of it, doubling up to PollIntervalMax).
	PollInterval    time.Duration
	PollIntervalMax time.Duration
}

// Until subscribes to topics first, then calls check, then sleeps until an
// event, the adaptive poll timer (a quarter of PollInterval, doubling up to
// PollIntervalMax, reset by activity) or the end of ctx, and calls check
// again. onBlock, if set, runs once before the first sleep (a task gives
// its slot back there). capWait, if set, bounds each sleep (e.g. up to a
// deadline). It returns check's error, or ctx's error when ctx ends first,
// or ErrParkNow once the wait has been blocked for park.After or park.Now
// is closed.
func (w *Waiter) Until(ctx context.Context, topics []domain.Topic, check Check, onBlock func(), capWait func() time.Duration, park *Park) error {
	return w.loop(ctx, w.Hints.Subscribe(ctx, topics...), topics, check, onBlock, capWait, park, false, nil)
}

// Resume is Until for a caller that subscribed itself (sub, from
// Hints.Subscribe; nil when that failed) and then checked once, finding
// the wait not over: it sleeps first, then checks as Until does. seen, if
// set, gets each event before the check that follows it (e.g. to take a
// result the event carries). Resume closes sub.
func (w *Waiter) Resume(ctx context.Context, sub ports.Subscription, topics []domain.Topic, check Check, capWait func() time.Duration, seen func(domain.Event)) error {
	return w.loop(ctx, sub, topics, check, nil, capWait, nil, true, seen)
}

func (w *Waiter) loop(ctx context.Context, sub ports.Subscription, topics []domain.Topic, check Check, onBlock func(), capWait func() time.Duration, park *Park, checked bool, seen func(domain.Event)) error {
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	// Without a subscription (the notifier is down, or was closed), each
	// poll tick tries again, quietly, until the notifier is closed: a long
	// wait gets its wake-ups back once the notifier recovers.
	resubscribe := true
	// The first polls come sooner than PollInterval (a quarter of it,
	// doubling), so that without notifications a short task is still seen
	// well within one interval.
	first := max(w.PollInterval/4, time.Millisecond)
	interval := first
	all := true
	var changed []string
	blocked := false
	var parkAt time.Time
	var parkNow <-chan struct{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if checked {
			checked = false
		} else if done, err := check(ctx, changed, all); err != nil || done {
			return err
		}
		if !blocked {
			if onBlock != nil {
				onBlock()
			}
			blocked = true
			if park != nil {
				parkAt, parkNow = w.Pace.Now().Add(park.After), park.Now
			}
		}
		all, changed = false, changed[:0]
		d := interval
		if capWait != nil {
			if c := capWait(); c >= 0 && c < d {
				d = c
			}
		}
		if park != nil {
			left := parkAt.Sub(w.Pace.Now())
			if left <= 0 {
				return ErrParkNow
			}
			d = min(d, left)
		}
		timer := w.Pace.NewTimer(d)
		var events <-chan domain.Event
		if sub != nil {
			events = sub.Events()
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-parkNow:
			timer.Stop()
			return ErrParkNow
		case ev, ok := <-events:
			timer.Stop()
			if !ok {
				_ = sub.Close()
				sub, all = nil, true
				continue
			}
			all, changed = absorb(ev, all, changed, seen)
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						_ = sub.Close()
						sub, all, more = nil, true, false
						break
					}
					all, changed = absorb(ev, all, changed, seen)
				default:
					more = false
				}
			}
			interval = first
		case <-timer.C():
			all = true
			interval = min(interval*2, w.PollIntervalMax)
			if sub == nil && resubscribe {
				// Subscribed before the next check, which re-reads all.
				s, err := w.Hints.Notifier.Subscribe(ctx, topics...)
				switch {
				case err == nil:
					sub = s
				case errors.Is(err, domain.ErrClosed):
					resubscribe = false
				}
			}
		}
	}
}

func absorb(ev domain.Event, all bool, changed []string, seen func(domain.Event)) (bool, []string) {
	if seen != nil {
		seen(ev)
	}
	if ev.Kind == domain.EventReset || ev.ID == "" {
		return true, changed
	}
	return all, append(changed, ev.ID)
}
