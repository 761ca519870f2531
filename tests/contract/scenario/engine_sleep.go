package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func engineSleep(t *testing.T, newStore StoreFactory) {
	t.Run("a durable sleep frees the worker for other work", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		sleeping := make(chan struct{}, 1)
		sleeper := app.Register(h.reg, "sleeper", func(ctx context.Context, _ int) (string, error) {
			sleeping <- struct{}{}
			if err := app.Sleep(ctx, time.Hour); err != nil {
				return "", err
			}
			return "awake", nil
		})
		quick := app.Register(h.reg, "quick", func(context.Context, int) (string, error) { return "quick", nil })
		h.worker(app.WorkerOptions{MaxConcurrency: 1})
		id := dispatch(h, sleeper, 1)
		<-sleeping
		// With its only slot given back, the worker runs other work.
		if got, err := await(h, quick, dispatch(h, quick, 1)); err != nil || got != "quick" {
			t.Fatalf("%q %v", got, err)
		}
		eventually(t, "the sleeper to park", func() bool { return rootState(h, id) == domain.TaskWaiting })
		fc.Advance(time.Hour)
		if got, err := await(h, sleeper, id); err != nil || got != "awake" {
			t.Fatalf("%q %v", got, err)
		}
		prog, err := h.store.ListProgress(h.ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		var sleeps int
		for _, p := range prog {
			if p.Kind == domain.KindSleep && p.State == domain.TaskCompleted {
				sleeps++
			}
		}
		if sleeps != 1 {
			t.Fatalf("%d completed sleep steps in %+v", sleeps, prog)
		}
	})

	t.Run("max duration times out an execution and ResultOf says so", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		stuck := app.Register(h.reg, "stuck", func(ctx context.Context, _ int) (int, error) {
			if err := app.Sleep(ctx, time.Hour); err != nil {
				return 0, err
			}
			return 1, nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, stuck, 1, app.WithMaxDuration(200*time.Millisecond))
		res := h.wait(id)
		if res.State != domain.ExecutionTimedOut {
			t.Fatalf("state %s", res.State)
		}
		got, err := h.engine().ResultOf(h.ctx(), id)
		if err != nil || got.State != domain.ExecutionTimedOut {
			t.Fatalf("%+v %v", got, err)
		}
		wantIs(t, got.Err(), app.ErrTimedOut)
		wantIs(t, got.Err(), app.ErrDeadline)
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 0 {
			t.Fatalf("a timeout must not dead-letter (%d)", n)
		}
	})

	t.Run("a completed execution stays completed after its deadline", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		fn := app.Register(h.reg, "fast", func(context.Context, int) (int, error) { return 1, nil })
		h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1, app.WithMaxDuration(time.Minute))
		h.wait(id)
		fc.Advance(time.Hour)
		if _, err := h.store.ExpireOverdue(h.ctx(), fc.Now(), 10); err != nil {
			t.Fatal(err)
		}
		if res := h.wait(id); res.State != domain.ExecutionCompleted {
			t.Fatalf("state %s", res.State)
		}
	})

	t.Run("delay plus max duration counts from the scheduled start", func(t *testing.T) {
		t.Parallel()
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		fc := clock.NewFake(start)
		h := newHarness(t, newStore, withClock(fc))
		fn := app.Register(h.reg, "scheduled", func(context.Context, int) (int, error) { return 1, nil })
		id := dispatch(h, fn, 1, app.WithDelay(time.Hour), app.WithMaxDuration(30*time.Minute))
		v, err := h.engine().StateOf(h.ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Deadline == nil || !v.Deadline.Equal(start.Add(90*time.Minute)) ||
			v.ScheduledFor == nil || !v.ScheduledFor.Equal(start.Add(time.Hour)) {
			t.Fatalf("scheduled %v deadline %v", v.ScheduledFor, v.Deadline)
		}
		h.worker(app.WorkerOptions{})
		fc.Advance(time.Hour)
		if res := h.wait(id); res.State != domain.ExecutionCompleted {
			t.Fatalf("state %s", res.State)
		}
	})
}
