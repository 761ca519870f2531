// Package clock provides the ports.Clock adapters: System, the UTC wall
// clock, and Fake, a clock tests set and advance by hand.
package clock

import (
	"sync"
	"time"

	"github.com/stenthq/stent/ports"
)

// System is the wall clock, in UTC: ports.SystemClock, package time's
// timers.
type System = ports.SystemClock

// Fake is a clock that moves only when told to. It is safe for concurrent
// use. Timers, tickers and AfterFunc calls fire when Set or Advance moves
// the clock to or past their time; a ticker that falls behind by several
// periods ticks once (like time.Ticker, it drops what its receiver
// missed) and is rescheduled one period after the clock's new time.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

var _ ports.Clock = (*Fake)(nil)

// NewFake returns a fake clock set to start (in UTC).
func NewFake(start time.Time) *Fake { return &Fake{now: start.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set moves the clock to t (which may be earlier) and fires due timers.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t.UTC()
	calls := f.fireLocked()
	f.mu.Unlock()
	run(calls)
}

// Advance moves the clock forward by d and fires due timers.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	calls := f.fireLocked()
	f.mu.Unlock()
	run(calls)
}

// NewTimer returns a timer that fires when the fake clock reaches now+d.
func (f *Fake) NewTimer(d time.Duration) ports.Timer {
	return f.add(&fakeTimer{clock: f, c: make(chan time.Time, 1)}, d)
}

// NewTicker returns a ticker that ticks each time the fake clock passes
// another d (d > 0, as for time.NewTicker).
func (f *Fake) NewTicker(d time.Duration) ports.Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for Fake.NewTicker")
	}
	return fakeTicker{f.add(&fakeTimer{clock: f, c: make(chan time.Time, 1), period: d}, d)}
}

// AfterFunc calls fn in its own goroutine when the fake clock reaches
// now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) ports.Timer {
	return f.add(&fakeTimer{clock: f, fn: fn}, d)
}

func (f *Fake) add(t *fakeTimer, d time.Duration) *fakeTimer {
	f.mu.Lock()
	t.at = f.now.Add(d)
	f.timers = append(f.timers, t)
	calls := f.fireLocked()
	f.mu.Unlock()
	run(calls)
	return t
}

// Timers returns the number of timers, tickers and AfterFunc calls
// waiting to fire; tests use it to know a goroutine has started waiting
// before advancing the clock.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// fireLocked fires the due timers and returns the AfterFunc calls to make
// once the lock is released.
func (f *Fake) fireLocked() []func() {
	var calls []func()
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			kept = append(kept, t)
			continue
		}
		switch {
		case t.fn != nil:
			calls = append(calls, t.fn)
		default:
			select {
			case t.c <- f.now:
			default: // a ticker whose receiver is behind: drop the tick
			}
		}
		if t.period > 0 {
			t.at = f.now.Add(t.period)
			kept = append(kept, t)
		}
	}
	clear(f.timers[len(kept):])
	f.timers = kept
	return calls
}

func run(calls []func()) {
	for _, fn := range calls {
		go fn()
	}
}

type fakeTimer struct {
	clock  *Fake
	at     time.Time
	c      chan time.Time // nil for AfterFunc
	fn     func()         // AfterFunc's function
	period time.Duration  // a ticker's interval
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.c }
func (k fakeTicker) Stop()               { k.t.Stop() }
