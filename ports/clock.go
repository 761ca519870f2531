package ports

import "time"

// Clock supplies the current time and timers. Every timer of the engine
// goes through a Clock, so a fake clock can drive sleeps, deadlines, waits
// and heartbeats in tests. Adapters: clock.System (UTC wall clock, the same
// as SystemClock) and clock.Fake (set and advanced by tests).
type Clock interface {
	// Now returns the current time in UTC.
	Now() time.Time
	// NewTimer returns a timer that fires once d has elapsed on this clock.
	// A d <= 0 fires at once.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that ticks every d (d > 0) on this clock.
	// Like time.Ticker it drops ticks a slow receiver misses.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine once d has elapsed on this
	// clock. The returned timer's C is nil; Stop prevents the call.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	// C delivers the clock's time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}

// Ticker is a periodic timer from a Clock.
type Ticker interface {
	// C delivers the clock's time at each tick.
	C() <-chan time.Time
	// Stop turns the ticker off; no tick is delivered after it returns.
	Stop()
}

// SystemClock is the UTC wall clock: package time's timers. It is the
// Clock the engine paces itself with (polls, heartbeats, backoff) and the
// default Clock of stored times.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

// AfterFunc returns time.AfterFunc's timer.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer {
	return systemTimer{time.AfterFunc(d, f)}
}

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time { return s.t.C }
func (s systemTimer) Stop() bool          { return s.t.Stop() }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }
