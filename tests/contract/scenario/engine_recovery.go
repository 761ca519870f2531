package scenario

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ghostClaim claims fn's task as a worker that then "crashes" (never
// heartbeats nor finishes), with lease.
func ghostClaim(t *testing.T, h *harness, worker, fn string, now time.Time, lease time.Duration) domain.Task {
	t.Helper()
	got, err := h.store.ClaimTasks(h.ctx(), ports.ClaimParams{WorkerID: worker, Functions: []string{fn}, Limit: 1, Now: now, Lease: lease})
	if err != nil || len(got) != 1 {
		t.Fatalf("claim by %s: %v %v", worker, got, err)
	}
	return got[0].Task
}

func engineRecovery(t *testing.T, newStore StoreFactory) {
	t.Run("crashes do not spend attempts: a task recovered more often than MaxAttempts completes", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		wf := app.Register(h.reg, "survivor", func(context.Context, int) (string, error) { return "done", nil })
		id := dispatch(h, wf, 1)
		for i := range 5 { // five workers die holding it: 1 claim, 4 reclaims
			ghostClaim(t, h, "ghost-"+string(rune('a'+i)), "survivor", fc.Now(), time.Minute)
			fc.Advance(2 * time.Minute)
		}
		h.worker(app.WorkerOptions{})
		if got, err := await(h, wf, id); err != nil || got != "done" {
			t.Fatalf("%q %v", got, err)
		}
		v, err := h.engine().StateOf(h.ctx(), id)
		if err != nil || v.RootAttempts != 1 || v.RootRecoveries != 5 {
			t.Fatalf("attempts %d recoveries %d (%v); want 1 and 5", v.RootAttempts, v.RootRecoveries, err)
		}
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 0 {
			t.Fatalf("%d dead letters", n)
		}
	})

	t.Run("a body that keeps killing its worker is dead-lettered once the recovery budget is spent", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		ran := make(chan struct{}, 1)
		wf := app.Register(h.reg, "poison", func(context.Context, int) (string, error) {
			ran <- struct{}{}
			return "never", nil
		}, app.WithRetry(domain.RetryPolicy{MaxRecoveries: 2}))
		id := dispatch(h, wf, 1)
		for i := range 3 { // the first run and two recoveries all die
			ghostClaim(t, h, "ghost-"+string(rune('a'+i)), "poison", fc.Now(), time.Minute)
			fc.Advance(2 * time.Minute)
		}
		h.worker(app.WorkerOptions{})
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrLeaseLost)
		if msg := res.Err().Error(); !strings.Contains(msg, "recovered 3 times") || !strings.Contains(msg, "recovery budget") {
			t.Fatalf("error %q does not say the recovery budget is spent", msg)
		}
		select {
		case <-ran:
			t.Fatal("the body ran once more after the budget was spent")
		default:
		}
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 1 {
			t.Fatalf("%d dead letters; want 1", n)
		}
	})

	t.Run("a dead worker's tasks are taken over within a few liveness intervals, long before its lease ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		wf := app.Register(h.reg, "orphaned", func(context.Context, int) (string, error) { return "adopted", nil })
		id := dispatch(h, wf, 1)
		now := time.Now()
		ghost := domain.WorkerInfo{ID: "ghost", Host: "elsewhere", PID: 1, Process: "gone"}
		if err := h.store.RegisterWorker(h.ctx(), ghost, now); err != nil {
			t.Fatal(err)
		}
		ghostClaim(t, h, "ghost", "orphaned", now, time.Hour) // then it dies
		h.worker(app.WorkerOptions{LivenessInterval: 20 * time.Millisecond, DeadAfter: 100 * time.Millisecond})
		if got, err := await(h, wf, id); err != nil || got != "adopted" {
			t.Fatalf("%q %v", got, err)
		}
		ws, err := h.engine().ListWorkers(h.ctx())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.ID == "ghost" && w.State != domain.WorkerDead {
				t.Fatalf("ghost is %s; want dead", w.State)
			}
		}
		if v, _ := h.engine().StateOf(h.ctx(), id); v.RootRecoveries != 1 || v.RootAttempts != 1 {
			t.Fatalf("attempts %d recoveries %d; want 1 and 1", v.RootAttempts, v.RootRecoveries)
		}
	})

	t.Run("a worker restarting under the same name takes over its predecessor's tasks at start", func(t *testing.T) {
		t.Parallel()
		host, _ := os.Hostname()
		if host == "" {
			host = "worker"
		}
		h := newHarness(t, newStore)
		name := "svc-" + domain.NewID()[:8]
		wf := app.Register(h.reg, "restarted", func(context.Context, int) (string, error) { return "resumed", nil })
		id := dispatch(h, wf, 1)
		now := time.Now()
		// The predecessor ran in a process with this pid that is gone (a
		// container restart): its heartbeat is fresh, its lease long.
		pred := domain.WorkerInfo{ID: "pred", Name: name, Host: host, PID: os.Getpid(), Process: "previous-process"}
		if err := h.store.RegisterWorker(h.ctx(), pred, now); err != nil {
			t.Fatal(err)
		}
		ghostClaim(t, h, "pred", "restarted", now, time.Hour)
		h.worker(app.WorkerOptions{Name: name, LivenessInterval: time.Hour, DeadAfter: 2 * time.Hour})
		if got, err := await(h, wf, id); err != nil || got != "resumed" {
			t.Fatalf("%q %v", got, err)
		}
	})

	t.Run("a worker never takes over a live worker of the same name from another process", func(t *testing.T) {
		t.Parallel()
		host, _ := os.Hostname()
		if host == "" {
			host = "worker"
		}
		h := newHarness(t, newStore)
		name := "svc-" + domain.NewID()[:8]
		wf := app.Register(h.reg, "held", func(context.Context, int) (string, error) { return "x", nil })
		dispatch(h, wf, 1)
		now := time.Now()
		// A sibling process still runs (pid 1 is always alive on this
		// host and is not this process).
		sibling := domain.WorkerInfo{ID: "sibling", Name: name, Host: host, PID: 1, Process: "sibling-process"}
		if os.Getpid() == 1 {
			t.Skip("this test runs as pid 1")
		}
		if err := h.store.RegisterWorker(h.ctx(), sibling, now); err != nil {
			t.Fatal(err)
		}
		held := ghostClaim(t, h, "sibling", "held", now, time.Hour)
		w := h.worker(app.WorkerOptions{Name: name, LivenessInterval: time.Hour, DeadAfter: 2 * time.Hour})
		<-w.Ready()
		got, err := h.store.GetTask(h.ctx(), held.ID)
		if err != nil || got.State != domain.TaskRunning || got.ClaimToken != held.ClaimToken {
			t.Fatalf("the sibling's task changed hands: %+v %v", got, err)
		}
	})
}
