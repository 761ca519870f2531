package scenario

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

func engineWorkers(t *testing.T, newStore StoreFactory) {
	t.Run("a per-function limit of 2 is never exceeded across 3 workers", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var running, peak atomic.Int32
		limited := app.Register(h.reg, "limited", func(ctx context.Context, n int) (int, error) {
			now := running.Add(1)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond) // simulated work, so runs could overlap
			running.Add(-1)
			return n, nil
		}, app.WithMaxConcurrent(2))
		for range 3 {
			h.worker(app.WorkerOptions{MaxConcurrency: 5})
		}
		ids := make([]string, 12)
		for i := range ids {
			ids[i] = dispatch(h, limited, i)
		}
		for _, id := range ids {
			h.wait(id)
		}
		if p := peak.Load(); p > 2 || p < 1 {
			t.Fatalf("peak concurrency %d, limit 2", p)
		}
	})

	t.Run("drain lets in-flight work finish", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		started := make(chan struct{}, 1)
		release := make(chan struct{})
		fn := app.Register(h.reg, "busy", func(context.Context, int) (string, error) {
			started <- struct{}{}
			<-release
			return "finished", nil
		})
		w := h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1)
		<-started
		drained := make(chan error, 1)
		go func() { drained <- w.Drain(h.ctx()) }()
		eventually(t, "the worker to start draining", func() bool { return w.State() == app.WorkerDraining })
		close(release)
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		if w.State() != app.WorkerStopped {
			t.Fatalf("state %s", w.State())
		}
		if got, err := await(h, fn, id); err != nil || got != "finished" {
			t.Fatalf("%q %v", got, err)
		}
	})

	t.Run("a drain past its deadline releases the lease and another worker takes the task at once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs atomic.Int32
		started := make(chan struct{}, 2)
		fn := app.Register(h.reg, "stubborn", func(ctx context.Context, _ int) (int, error) {
			n := runs.Add(1)
			started <- struct{}{}
			if n == 1 {
				<-ctx.Done() // the first run blocks until the drain gives up
				return 0, context.Cause(ctx)
			}
			tc, _ := app.CurrentTask(ctx)
			return tc.Attempt, nil
		})
		a := h.worker(app.WorkerOptions{ID: "a", LeaseDuration: 5 * time.Minute})
		id := dispatch(h, fn, 1)
		<-started
		ctx, cancel := context.WithTimeout(h.ctx(), 100*time.Millisecond)
		defer cancel()
		if err := a.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		h.worker(app.WorkerOptions{ID: "b", LeaseDuration: 5 * time.Minute})
		got, err := await(h, fn, id)
		if err != nil || got != 1 {
			t.Fatalf("attempt %d (%v): the released attempt must not count", got, err)
		}
	})

	t.Run("a lost lease cancels the task and the new owner's result wins", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		started := make(chan struct{}, 1)
		cause := make(chan error, 1)
		fn := app.Register(h.reg, "contested", func(ctx context.Context, _ int) (string, error) {
			started <- struct{}{}
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return "from A", nil
		})
		h.worker(app.WorkerOptions{ID: "a", LeaseDuration: time.Minute, HeartbeatInterval: 100 * time.Millisecond})
		id := dispatch(h, fn, 1)
		<-started
		// Worker B, played by the test: it reclaims at a time past A's
		// lease (A keeps renewing against the fake clock's present).
		later := fc.Now().Add(2 * time.Minute)
		claimed, err := h.store.ClaimTasks(h.ctx(), ports.ClaimParams{WorkerID: "b", Functions: []string{"contested"},
			Limit: 1, Now: later, Lease: time.Minute})
		if err != nil || len(claimed) != 1 || claimed[0].Attempt != 1 || claimed[0].Recoveries != 1 {
			t.Fatalf("reclaim: %+v %v", claimed, err)
		}
		if err := ports.CompleteTask(h.ctx(), h.store, ports.CompleteParams{Fence: claimed[0].Fence(),
			Result: []byte(`"from B"`), Now: later}); err != nil {
			t.Fatal(err)
		}
		wantIs(t, <-cause, app.ErrLeaseLost)
		got, err := await(h, fn, id)
		if err != nil || got != "from B" {
			t.Fatalf("%q %v", got, err)
		}
	})

	t.Run("worker options are validated", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		app.Register(h.reg, "f", func(context.Context, int) (int, error) { return 0, nil })
		for _, o := range []app.WorkerOptions{{MaxConcurrency: -1}, {LeaseDuration: -time.Second}, {Functions: []string{"missing"}}} {
			if _, err := h.engine().NewWorker(o); err == nil {
				t.Errorf("options %+v accepted", o)
			}
		}
		w, err := h.engine().NewWorker(app.WorkerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o := w.Options()
		if o.MaxConcurrency != 10 || o.LeaseDuration != 5*time.Minute || o.HeartbeatInterval != 30*time.Second ||
			o.DrainTimeout != 30*time.Second || o.Retention != 7*24*time.Hour || o.ID == "" {
			t.Fatalf("defaults %+v", o)
		}
		if w.State() != app.WorkerStarting {
			t.Fatalf("state %s", w.State())
		}
	})
}
