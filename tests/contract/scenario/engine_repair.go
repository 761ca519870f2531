package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// engineRepair holds the scenarios of features/051: Reset re-runs a failed
// run from a step under the same id, Fork copies a run's first steps into
// a new one; the kept steps never run again.
func engineRepair(t *testing.T, newStore StoreFactory) {
	once := domain.RetryPolicy{MaxAttempts: 1, Jitter: domain.NoJitter}

	t.Run("a run whose step 2 failed on a bug is reset from step 2 and completes; step 1 never runs again", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		var bug atomic.Bool
		bug.Store(true)
		charge := app.Register(h.reg, "repair-charge", func(_ context.Context, n int) (int, error) {
			runs.inc("charge")
			return n * 10, nil
		})
		ship := app.Register(h.reg, "repair-ship", func(_ context.Context, n int) (string, error) {
			runs.inc("ship")
			if bug.Load() {
				return "", app.Permanent(errors.New("ship: nil address (the bug)"))
			}
			return fmt.Sprintf("shipped %d", n), nil
		})
		notify := app.Register(h.reg, "repair-notify", func(_ context.Context, s string) (string, error) {
			runs.inc("notify")
			return "told: " + s, nil
		})
		order := app.Register(h.reg, "repair-order", func(ctx context.Context, n int) (string, error) {
			paid, err := charge.Call(ctx, n)
			if err != nil {
				return "", err
			}
			shipped, err := ship.Call(ctx, paid)
			if err != nil {
				return "", err
			}
			return notify.Call(ctx, shipped)
		}, app.WithRetry(once))
		h.worker(app.WorkerOptions{})
		id := dispatch(h, order, 4)
		if res := h.wait(id); res.State != domain.ExecutionFailed {
			t.Fatalf("first run: %s, want failed", res.State)
		}
		bug.Store(false) // the fix is deployed
		if err := h.engine().Reset(h.ctx(), id, app.FromStep(2)); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		got, err := await(h, order, id)
		if err != nil || got != "told: shipped 40" {
			t.Fatalf("after the reset: %q, %v; want told: shipped 40", got, err)
		}
		if c, s, n := runs.get("charge"), runs.get("ship"), runs.get("notify"); c != 1 || s != 2 || n != 1 {
			t.Fatalf("runs charge %d ship %d notify %d; want 1, 2, 1 (step 1 kept)", c, s, n)
		}
		if dls, _ := h.store.CountDeadLetters(h.ctx()); dls != 0 {
			t.Errorf("%d dead letters left after the reset", dls)
		}
		err = h.engine().Reset(h.ctx(), id, app.FromStep(1))
		wantIs(t, err, domain.ErrInvalidTransition)
		if err == nil || !strings.Contains(err.Error(), "is completed; only a failed, timed_out or cancelled execution can be reset") {
			t.Fatalf("reset of a completed run: %v; want the state and the allowed states named", err)
		}
	})

	t.Run("a fork from step 3 of a completed run copies steps 1 and 2 and runs 3 and 4 with the new input", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		step := func(name string) *app.Function[int, string] {
			return app.Register(h.reg, "fork-"+name, func(_ context.Context, n int) (string, error) {
				runs.inc(name)
				return fmt.Sprintf("%s(%d)", name, n), nil
			})
		}
		a, b, c, d := step("a"), step("b"), step("c"), step("d")
		flow := app.Register(h.reg, "fork-flow", func(ctx context.Context, n int) (string, error) {
			var out []string
			for _, f := range []*app.Function[int, string]{a, b, c, d} {
				s, err := f.Call(ctx, n)
				if err != nil {
					return "", err
				}
				out = append(out, s)
			}
			return strings.Join(out, " "), nil
		}, app.WithRetry(once))
		h.worker(app.WorkerOptions{})
		src := dispatch(h, flow, 1)
		if got, err := await(h, flow, src); err != nil || got != "a(1) b(1) c(1) d(1)" {
			t.Fatalf("source run: %q %v", got, err)
		}
		fork, err := h.engine().Fork(h.ctx(), src, app.FromStep(3), app.WithForkInput(2))
		if err != nil {
			t.Fatalf("Fork: %v", err)
		}
		if fork == src {
			t.Fatal("the fork has the source's id")
		}
		got, err := await(h, flow, fork)
		if err != nil || got != "a(1) b(1) c(2) d(2)" {
			t.Fatalf("fork: %q %v; want the kept results of steps 1-2 and steps 3-4 run on the new input", got, err)
		}
		for name, want := range map[string]int{"a": 1, "b": 1, "c": 2, "d": 2} {
			if n := runs.get(name); n != want {
				t.Errorf("step %s ran %d times; want %d", name, n, want)
			}
		}
		view, err := h.engine().StateOf(h.ctx(), fork)
		if err != nil || view.ForkedFrom != src {
			t.Fatalf("fork view: forked_from %q (%v); want %q", view.ForkedFrom, err, src)
		}
		srcView, _ := h.engine().StateOf(h.ctx(), src)
		if srcView.State != domain.ExecutionCompleted || srcView.ForkedFrom != "" {
			t.Errorf("source after the fork: %s forked_from %q", srcView.State, srcView.ForkedFrom)
		}

		_, err = h.engine().Fork(h.ctx(), src, app.FromStep(0))
		wantIs(t, err, domain.ErrInvalidArgument)
		_, err = h.engine().Fork(h.ctx(), src, app.FromStep(6))
		wantIs(t, err, domain.ErrInvalidArgument)
		if err == nil || !strings.Contains(err.Error(), "has 4 recorded steps; choose a step from 1 to 5") {
			t.Errorf("fork beyond the steps: %v", err)
		}
		_, err = h.engine().Fork(h.ctx(), "no-such-run", app.FromStep(1))
		wantIs(t, err, domain.ErrNotFound)
		wantIs(t, h.engine().Reset(h.ctx(), "no-such-run", app.FromStep(1)), domain.ErrNotFound)
	})
}
