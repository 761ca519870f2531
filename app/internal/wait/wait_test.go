package wait_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/wait"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// downNotifier is a notifier that is closed: waits poll only.
type downNotifier struct{}

func (downNotifier) Publish(context.Context, domain.Event) error { return domain.ErrClosed }
func (downNotifier) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return nil, domain.ErrClosed
}
func (downNotifier) Close() error { return nil }

func newWaiter(pace ports.Clock) *wait.Waiter {
	hints := &hint.Publisher{Notifier: downNotifier{}, Log: slog.New(slog.DiscardHandler), Now: pace.Now}
	return &wait.Waiter{Hints: hints, Pace: pace, PollInterval: time.Hour, PollIntervalMax: 4 * time.Hour}
}

// waitForTimer returns once the fake clock has n timers waiting.
func waitForTimer(t *testing.T, fc *clock.Fake, n int, errc <-chan error) {
	t.Helper()
	for fc.Timers() < n {
		select {
		case err := <-errc:
			t.Fatalf("the wait ended before it slept: %v", err)
		default:
		}
		runtime.Gosched()
	}
}

func TestThePollTimerRunsOnThePacingClock(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := newWaiter(fc)
	checks := make(chan bool, 10)
	var done atomic.Bool
	check := func(_ context.Context, _ []string, all bool) (bool, error) {
		checks <- all
		return done.Load(), nil
	}
	errc := make(chan error, 1)
	go func() { errc <- w.Until(t.Context(), nil, check, nil, nil, nil) }()
	if all := <-checks; !all {
		t.Fatal("the first check was not told to read everything")
	}
	waitForTimer(t, fc, 1, errc)
	// The first poll comes a quarter of PollInterval later, on the fake
	// clock only (an hour of wall time would never pass in this test).
	fc.Advance(15*time.Minute - time.Nanosecond)
	select {
	case <-checks:
		t.Fatal("polled before the poll interval passed on the pacing clock")
	default:
	}
	fc.Advance(time.Nanosecond)
	if all := <-checks; !all {
		t.Fatal("a poll tick did not ask to read everything")
	}
	// The interval doubles: the next poll is 30 minutes later.
	waitForTimer(t, fc, 1, errc)
	done.Store(true)
	fc.Advance(30 * time.Minute)
	<-checks
	if err := <-errc; err != nil {
		t.Fatalf("Until = %v, want nil", err)
	}
}

func TestAWaitParksAfterParkAfterOnThePacingClock(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := newWaiter(fc)
	blocked := make(chan struct{})
	check := func(context.Context, []string, bool) (bool, error) { return false, nil }
	errc := make(chan error, 1)
	park := &wait.Park{After: time.Minute}
	go func() { errc <- w.Until(t.Context(), nil, check, func() { close(blocked) }, nil, park) }()
	<-blocked
	waitForTimer(t, fc, 1, errc)
	fc.Advance(time.Minute)
	if err := <-errc; err != wait.ErrParkNow {
		t.Fatalf("Until = %v, want ErrParkNow", err)
	}
}
