package ports

import "time"

// Clock supplies the current time and timers. Adapters: clock.System (UTC
// wall clock) and clock.Fake (set and advanced by tests).
type Clock interface {
	// Now returns the current time in UTC.
	Now() time.Time
	// NewTimer returns a timer that fires once d has elapsed on this clock.
	// A d <= 0 fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	// C delivers the clock's time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}
