package clock_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/ports"
)

var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fired reports whether the timer has fired, without blocking.
func fired(tm ports.Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestSystemNowIsUTC(t *testing.T) {
	t.Parallel()
	now := clock.System{}.Now()
	if now.Location() != time.UTC {
		t.Fatalf("System.Now() location = %v, want UTC", now.Location())
	}
	if now.IsZero() {
		t.Fatal("System.Now() is zero")
	}
}

func TestSystemTimerFiresAndStops(t *testing.T) {
	t.Parallel()
	tm := clock.System{}.NewTimer(0)
	<-tm.C() // a zero timer fires; blocks until it does
	if tm.Stop() {
		t.Error("Stop after firing reported that it stopped the timer")
	}
	long := clock.System{}.NewTimer(time.Hour)
	if !long.Stop() {
		t.Error("Stop of a pending timer reported false")
	}
}

func TestFakeNowStartsAtTheGivenTimeInUTC(t *testing.T) {
	t.Parallel()
	local := time.Date(2030, 1, 2, 5, 4, 5, 0, time.FixedZone("EET", 2*3600))
	f := clock.NewFake(local)
	if got := f.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Fatalf("Now() = %v, want %v in UTC", got, start)
	}
	f.Set(local.Add(time.Hour))
	if got := f.Now(); !got.Equal(start.Add(time.Hour)) || got.Location() != time.UTC {
		t.Fatalf("after Set, Now() = %v, want %v in UTC", got, start.Add(time.Hour))
	}
}

func TestFakeAdvanceFiresDueTimers(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	short := f.NewTimer(time.Second)
	long := f.NewTimer(time.Minute)
	if f.Timers() != 2 {
		t.Fatalf("Timers() = %d, want 2", f.Timers())
	}
	f.Advance(999 * time.Millisecond)
	if _, ok := fired(short); ok {
		t.Fatal("a timer fired before its deadline")
	}
	f.Advance(time.Millisecond)
	at, ok := fired(short)
	if !ok {
		t.Fatal("a timer did not fire at its deadline")
	}
	if !at.Equal(start.Add(time.Second)) {
		t.Errorf("timer delivered %v, want the clock's time %v", at, start.Add(time.Second))
	}
	if _, ok := fired(long); ok {
		t.Fatal("the long timer fired early")
	}
	if f.Timers() != 1 {
		t.Fatalf("Timers() = %d after one fired, want 1", f.Timers())
	}
	f.Advance(time.Hour)
	if at, ok := fired(long); !ok || !at.Equal(start.Add(time.Hour+time.Second)) {
		t.Fatalf("long timer: fired %v at %v", ok, at)
	}
	f.Advance(time.Hour)
	if _, ok := fired(long); ok {
		t.Fatal("a timer fired twice")
	}
}

func TestFakeSetFiresDueTimersAndMayMoveBack(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(10 * time.Second)
	f.Set(start.Add(-time.Hour))
	if _, ok := fired(tm); ok {
		t.Fatal("moving the clock back fired a timer")
	}
	if got := f.Now(); !got.Equal(start.Add(-time.Hour)) {
		t.Fatalf("Now() = %v after Set", got)
	}
	f.Set(start.Add(10 * time.Second))
	if _, ok := fired(tm); !ok {
		t.Fatal("Set to the deadline did not fire the timer")
	}
}

func TestFakeTimerWithoutDelayFiresAtOnce(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	for _, d := range []time.Duration{0, -time.Second} {
		if at, ok := fired(f.NewTimer(d)); !ok || !at.Equal(start) {
			t.Errorf("NewTimer(%v): fired %v at %v, want at once at %v", d, ok, at, start)
		}
	}
	if f.Timers() != 0 {
		t.Errorf("Timers() = %d, want 0", f.Timers())
	}
}

func TestFakeStop(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	keep := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if tm.Stop() {
		t.Fatal("a second Stop reported true")
	}
	f.Advance(time.Second)
	if _, ok := fired(tm); ok {
		t.Fatal("a stopped timer fired")
	}
	if _, ok := fired(keep); !ok {
		t.Fatal("stopping one timer stopped another")
	}
	if keep.Stop() {
		t.Fatal("Stop after firing reported true")
	}
}

func TestFakeIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				tm := f.NewTimer(time.Duration(i%5) * time.Millisecond)
				if w%2 == 0 {
					tm.Stop()
				}
				f.Advance(time.Millisecond)
				_ = f.Now()
				_ = f.Timers()
			}
		}()
	}
	wg.Wait()
	if got, want := f.Now(), start.Add(workers*rounds*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v after every Advance", got, want)
	}
	f.Advance(time.Second)
	if f.Timers() != 0 {
		t.Fatalf("Timers() = %d after advancing past every deadline, want 0", f.Timers())
	}
}

func TestFakeWakesAGoroutineWaitingOnATimer(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	got := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Minute)
		got <- <-tm.C()
	}()
	// Wait until the goroutine's timer exists, then advance: Timers is the
	// documented hand-shake, so no sleep is needed.
	for f.Timers() == 0 {
		runtime.Gosched()
	}
	f.Advance(time.Minute)
	if at := <-got; !at.Equal(start.Add(time.Minute)) {
		t.Fatalf("waiter woke at %v, want %v", at, start.Add(time.Minute))
	}
}

func TestFakeTickerTicksEachPeriodAndDropsMissedTicks(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tk := f.NewTicker(time.Second)
	defer tk.Stop()
	f.Advance(500 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("the ticker ticked before its period")
	default:
	}
	f.Advance(500 * time.Millisecond)
	if at := <-tk.C(); !at.Equal(start.Add(time.Second)) {
		t.Fatalf("tick at %v, want %v", at, start.Add(time.Second))
	}
	f.Advance(5 * time.Second) // several periods at once: one tick
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("a jump of several periods delivered more than one tick")
	default:
	}
	f.Advance(time.Second)
	<-tk.C()
	tk.Stop()
	if n := f.Timers(); n != 0 {
		t.Fatalf("after Stop, %d timers wait", n)
	}
}

func TestFakeAfterFuncCallsOnceWhenDueAndNotAfterStop(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	called := make(chan struct{}, 2)
	tm := f.AfterFunc(time.Minute, func() { called <- struct{}{} })
	if tm.C() != nil {
		t.Error("an AfterFunc timer has a channel")
	}
	f.Advance(time.Minute)
	<-called
	f.Advance(time.Hour)
	stopped := f.AfterFunc(time.Minute, func() { called <- struct{}{} })
	if !stopped.Stop() {
		t.Error("Stop of a pending AfterFunc reported false")
	}
	f.Advance(time.Hour)
	select {
	case <-called:
		t.Fatal("a stopped AfterFunc (or the first one again) was called")
	default:
	}
}

func TestSystemTickerAndAfterFunc(t *testing.T) {
	t.Parallel()
	tk := clock.System{}.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	done := make(chan struct{})
	clock.System{}.AfterFunc(0, func() { close(done) })
	<-done
}
