package app

import (
	"context"
	"errors"
	"time"

	"github.com/stenthq/stent/domain"
)

// checkFunc reads the store and reports whether the wait is over. changed
// lists the ids named by events since the last call; all says everything
// may have changed (first call, poll tick, notifier reset).
type checkFunc func(ctx context.Context, changed []string, all bool) (done bool, err error)

// waitUntil is the one wait loop of the engine: it subscribes to topics
// first, then calls check, then sleeps until an event, the adaptive poll
// timer (a quarter of PollInterval, doubling up to PollIntervalMax, reset by
// activity) or
// the end of ctx, and calls check again. Notifications only shorten the
// sleep: with no notifier, or a broken one, polling alone is correct.
// onBlock, if set, runs once before the first sleep (a task gives its slot
// back there). capWait, if set, bounds each sleep (e.g. up to a deadline).
// It returns check's error, or ctx's error when ctx ends first, or
// errParkNow once the wait has been blocked for park.after or park.now is
// closed (see waitPark).
func (e *Engine) waitUntil(ctx context.Context, topics []domain.Topic, check checkFunc, onBlock func(), capWait func() time.Duration, park *waitPark) error {
	sub := e.subscribe(ctx, topics...)
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
	first := max(e.cfg.PollInterval/4, time.Millisecond)
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
		done, err := check(ctx, changed, all)
		if err != nil || done {
			return err
		}
		if !blocked {
			if onBlock != nil {
				onBlock()
			}
			blocked = true
			if park != nil {
				parkAt, parkNow = time.Now().Add(park.after), park.now
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
			left := time.Until(parkAt)
			if left <= 0 {
				return errParkNow
			}
			d = min(d, left)
		}
		timer := time.NewTimer(d)
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
			return errParkNow
		case ev, ok := <-events:
			timer.Stop()
			if !ok {
				_ = sub.Close()
				sub, all = nil, true
				continue
			}
			all, changed = absorb(ev, all, changed)
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						_ = sub.Close()
						sub, all, more = nil, true, false
						break
					}
					all, changed = absorb(ev, all, changed)
				default:
					more = false
				}
			}
			interval = first
		case <-timer.C:
			all = true
			interval = min(interval*2, e.cfg.PollIntervalMax)
			if sub == nil && resubscribe {
				// Subscribed before the next check, which re-reads all.
				s, err := e.notifier.Subscribe(ctx, topics...)
				switch {
				case err == nil:
					sub = s
				case errors.Is(err, ErrClosed):
					resubscribe = false
				}
			}
		}
	}
}

// waitPark asks waitUntil to give up waiting in memory: after being
// blocked for after, or as soon as now is closed (the worker drains).
type waitPark struct {
	after time.Duration
	now   <-chan struct{}
}

// errParkNow ends an in-memory wait that should park.
var errParkNow = errors.New("stent: the wait should park")

func absorb(ev domain.Event, all bool, changed []string) (bool, []string) {
	if ev.Kind == domain.EventReset || ev.ID == "" {
		return true, changed
	}
	return all, append(changed, ev.ID)
}
