package worker

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/ports"
)

// wakeStore answers NextWake with a time the test sets.
type wakeStore struct {
	ports.Store
	mu    sync.Mutex
	at    time.Time
	reads int
}

func (s *wakeStore) set(at time.Time) { s.mu.Lock(); s.at = at; s.mu.Unlock() }

func (s *wakeStore) NextWake(context.Context, ports.ClaimParams) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.at, true, nil
}

// newWakeWorker is a worker over a wakeStore, with fake stored and pacing
// clocks at start and a poll interval of 100 ms.
func newWakeWorker() (w *Worker, st *wakeStore, stored, pace *clock.Fake, start time.Time) {
	start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored, pace = clock.NewFake(start), clock.NewFake(start)
	st = &wakeStore{}
	log := slog.New(slog.DiscardHandler)
	env := &Env{Run: &run.Env{Store: st, Clock: stored, Pace: pace, Log: log,
		Hints: &hint.Publisher{Notifier: downNotifier{}, Log: log, Now: stored.Now}}}
	w = New(env, Options{ID: "w1", Functions: []string{"f"}, MaxConcurrency: 1, LeaseDuration: time.Minute,
		PollInterval: 100 * time.Millisecond})
	return w, st, stored, pace, start
}

// Regression (W6 spread timers, p99 108 ms with p50 4 ms): when the wake
// time read last came due within 5 ms of that read, the worker claimed the
// task and then, not allowed to read again yet, fell back to the poll
// interval (100 ms) although the next timer was due in 16 ms.
func TestTheNextTimerIsReadAgainSoonAfterTheLastOneCameDue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, st, stored, pace, start := newWakeWorker()

	st.set(start.Add(3 * time.Millisecond))
	if d, ok := w.nextWakeIn(ctx); !ok || d != 3*time.Millisecond {
		t.Fatalf("first read: %v %v; want 3ms", d, ok)
	}
	// 4 ms later the first timer's task has been claimed; the next is due
	// at +20 ms. The worker may wait for the read to be allowed again (5 ms
	// after the last), not for the poll interval.
	stored.Advance(4 * time.Millisecond)
	pace.Advance(4 * time.Millisecond)
	st.set(start.Add(20 * time.Millisecond))
	d, ok := w.nextWakeIn(ctx)
	if !ok || d > 5*time.Millisecond {
		t.Fatalf("after the due timer: %v %v; want a wait of at most 5ms before reading again", d, ok)
	}
	stored.Advance(d)
	pace.Advance(d)
	if d, ok := w.nextWakeIn(ctx); !ok || d != 15*time.Millisecond {
		t.Fatalf("read again: %v %v; want the next timer in 15ms", d, ok)
	}

	// A due time read when it had already come (a task a limit holds back)
	// does not make the worker read every few milliseconds: it polls.
	stored.Advance(20 * time.Millisecond)
	pace.Advance(20 * time.Millisecond)
	st.set(start.Add(20 * time.Millisecond))
	before := st.reads
	if d, ok := w.nextWakeIn(ctx); !ok || d != 0 {
		// Newly read as due, it may have come due during a claim: one
		// claim at once (TestATimerThatCameDueDuringAClaimIsClaimedAtOnce).
		t.Fatalf("a newly due task: %v %v; want one claim at once", d, ok)
	}
	pace.Advance(6 * time.Millisecond)
	stored.Advance(6 * time.Millisecond)
	if _, ok := w.nextWakeIn(ctx); ok {
		t.Fatal("a due but held task, read again: want the poll interval")
	}
	if got := st.reads - before; got > 2 {
		t.Fatalf("%d reads of a held task's due time within 6 ms", got)
	}
}

// Regression (W6 spread timers on SQLite, p99 107 ms with p50 2 ms): a
// claim that took longer than the gap between two timers let the next
// timer come due before it was read; reading it as already due, the
// worker took it for a task a limit holds back and waited the poll
// interval (100 ms) instead of claiming it. A newly read due time is
// claimed at once, once; read again unchanged, it is a held task and the
// worker polls.
func TestATimerThatCameDueDuringAClaimIsClaimedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, st, stored, pace, start := newWakeWorker()

	st.set(start.Add(10 * time.Millisecond))
	if d, ok := w.nextWakeIn(ctx); !ok || d != 10*time.Millisecond {
		t.Fatalf("first read: %v %v; want 10ms", d, ok)
	}
	// The claim for the +10 ms timer ran until +30 ms; meanwhile the timer
	// of +20 ms came due.
	stored.Advance(30 * time.Millisecond)
	pace.Advance(30 * time.Millisecond)
	st.set(start.Add(20 * time.Millisecond))
	if d, ok := w.nextWakeIn(ctx); !ok || d > time.Millisecond {
		t.Fatalf("a timer that came due during the claim: %v %v; want to claim at once", d, ok)
	}
	// The claim did not take it (a limit holds it back): the same due time
	// read again means poll.
	stored.Advance(6 * time.Millisecond)
	pace.Advance(6 * time.Millisecond)
	if _, ok := w.nextWakeIn(ctx); ok {
		t.Fatal("the same due time read again: want the poll interval")
	}
	stored.Advance(6 * time.Millisecond)
	pace.Advance(6 * time.Millisecond)
	if _, ok := w.nextWakeIn(ctx); ok {
		t.Fatal("the same due time, later: want the poll interval")
	}
}
