package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func engineCheckpoints(t *testing.T, newStore StoreFactory) {
	t.Run("a re-run after a lost lease reuses completed steps and runs each body once", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		var runs counter
		var firstRun atomic.Bool
		firstRun.Store(true)
		blocked := make(chan struct{}, 1)
		step := app.Register(h.reg, "step", func(_ context.Context, n int) (int, error) {
			runs.inc(fmt.Sprint("step", n))
			return n * 10, nil
		})
		wf := app.Register(h.reg, "five-steps", func(ctx context.Context, _ int) (int, error) {
			total := 0
			for i := 1; i <= 5; i++ {
				v, err := step.Call(ctx, i)
				if err != nil {
					return 0, err
				}
				total += v
				if i == 3 && firstRun.CompareAndSwap(true, false) {
					blocked <- struct{}{}
					<-ctx.Done() // "crash": this run never finishes
					return 0, context.Cause(ctx)
				}
			}
			return total, nil
		})
		a, err := h.engine().NewWorker(app.WorkerOptions{ID: "a", LeaseDuration: time.Minute, HeartbeatInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		actx, stopA := context.WithCancel(context.Background())
		go func() { _ = a.Run(actx) }()
		id := dispatch(h, wf, 1)
		<-blocked
		// A never heartbeats; past its lease, worker B reclaims the root.
		fc.Advance(2 * time.Minute)
		h.worker(app.WorkerOptions{ID: "b", LeaseDuration: time.Hour})
		got, err := await(h, wf, id)
		stopA()
		if err != nil || got != 150 {
			t.Fatalf("%d %v; want 150", got, err)
		}
		for i := 1; i <= 5; i++ {
			if n := runs.get(fmt.Sprint("step", i)); n != 1 {
				t.Errorf("step %d ran %d times, want 1", i, n)
			}
		}
		v, _ := h.engine().StateOf(h.ctx(), id)
		if v.RootAttempts != 1 || v.RootRecoveries != 1 {
			t.Errorf("root attempts %d and recoveries %d, want 1 and 1 (the reclaim is a recovery, not an attempt)", v.RootAttempts, v.RootRecoveries)
		}
	})

	t.Run("a re-run that issues a different step fails with a non-determinism error", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		var deployed atomic.Bool
		blocked := make(chan struct{}, 1)
		charge := app.Register(h.reg, "charge", func(context.Context, int) (int, error) { return 1, nil })
		refund := app.Register(h.reg, "refund", func(context.Context, int) (int, error) { return 2, nil })
		wf := app.Register(h.reg, "pay", func(ctx context.Context, _ int) (int, error) {
			if _, err := charge.Call(ctx, 1); err != nil {
				return 0, err
			}
			if !deployed.Load() {
				if _, err := charge.Call(ctx, 2); err != nil {
					return 0, err
				}
				blocked <- struct{}{}
				<-ctx.Done()
				return 0, context.Cause(ctx)
			}
			return refund.Call(ctx, 2) // the "new code" renamed call #2
		})
		a, err := h.engine().NewWorker(app.WorkerOptions{ID: "a", LeaseDuration: time.Minute, HeartbeatInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		actx, stopA := context.WithCancel(context.Background())
		defer stopA()
		go func() { _ = a.Run(actx) }()
		id := dispatch(h, wf, 1)
		<-blocked
		deployed.Store(true)
		fc.Advance(2 * time.Minute)
		h.worker(app.WorkerOptions{ID: "b", LeaseDuration: time.Hour})
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrNonDeterministic)
		msg := res.Error.Message
		if !strings.Contains(msg, "call #2") || !strings.Contains(msg, `"charge"`) || !strings.Contains(msg, `"refund"`) {
			t.Fatalf("message %q should name call #2 and both names", msg)
		}
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 1 {
			t.Fatalf("dead letters %d, want 1", n)
		}
	})

	t.Run("a replayed signal wait returns the same payload without consuming another", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs atomic.Int32
		wf := app.Register(h.reg, "signal-then-fail", func(ctx context.Context, _ int) (int, error) {
			v, err := app.WaitForSignal[int](ctx, "n")
			if err != nil {
				return 0, err
			}
			if runs.Add(1) == 1 {
				return 0, errors.New("fail after the signal")
			}
			return v, nil
		}, app.WithRetry(fastRetry))
		id := dispatch(h, wf, 1)
		for _, v := range []int{5, 6} {
			if err := h.engine().SendSignal(h.ctx(), id, "n", v); err != nil {
				t.Fatal(err)
			}
		}
		h.worker(app.WorkerOptions{})
		got, err := await(h, wf, id)
		if err != nil || got != 5 {
			t.Fatalf("%d %v; want 5", got, err)
		}
		sigs, err := h.store.(ports.Inspector).ListSignals(h.ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		consumed := 0
		for _, s := range sigs {
			if s.ConsumedBy != "" {
				consumed++
			}
		}
		if consumed != 1 {
			t.Fatalf("%d messages consumed, want 1: %+v", consumed, sigs)
		}
	})
}
