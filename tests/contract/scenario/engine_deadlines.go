package scenario

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// engineDeadlines: WaitForSignal with WithSignalTimeout, in memory and
// parked, and a wait that ran out told apart from an execution that timed
// out (features/045).
func engineDeadlines(t *testing.T, newStore StoreFactory) {
	t.Run("a signal wait with a timeout gives up with ErrSignalTimeout and a later signal is not lost", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		timedOut := make(chan struct{}, 8)
		wf := app.Register(h.reg, "impatient", func(ctx context.Context, _ int) (string, error) {
			_, err := app.WaitForSignal[int](ctx, "go", app.WithSignalTimeout(150*time.Millisecond))
			if !errors.Is(err, app.ErrSignalTimeout) {
				return "", fmt.Errorf("first wait: %v, want ErrSignalTimeout", err)
			}
			if !errors.Is(err, app.ErrExpired) || !errors.Is(err, app.ErrDeadline) || errors.Is(err, app.ErrTimedOut) {
				return "", fmt.Errorf("first wait: %v matches the wrong sentinels", err)
			}
			select {
			case timedOut <- struct{}{}:
			default:
			}
			n, err := app.WaitForSignal[int](ctx, "go")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("timed out, then got %d", n), nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		<-timedOut
		if err := h.engine().SendSignal(h.ctx(), id, "go", 5); err != nil {
			t.Fatal(err)
		}
		got, err := await(h, wf, id)
		if err != nil || got != "timed out, then got 5" {
			t.Fatalf("%q %v", got, err)
		}
	})

	t.Run("a signal that arrives before the timeout is delivered", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		waiting := make(chan struct{}, 8)
		wf := app.Register(h.reg, "patient", func(ctx context.Context, _ int) (int, error) {
			waiting <- struct{}{}
			return app.WaitForSignal[int](ctx, "go", app.WithSignalTimeout(time.Hour))
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		<-waiting
		if err := h.engine().SendSignal(h.ctx(), id, "go", 9); err != nil {
			t.Fatal(err)
		}
		got, err := await(h, wf, id)
		if err != nil || got != 9 {
			t.Fatalf("%d %v", got, err)
		}
	})

	t.Run("a parked signal wait wakes at its timeout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
		wf := app.Register(h.reg, "parked-impatient", func(ctx context.Context, _ int) (string, error) {
			_, err := app.WaitForSignal[int](ctx, "go", app.WithSignalTimeout(time.Second))
			if errors.Is(err, app.ErrSignalTimeout) {
				return "gave up", nil
			}
			return "", fmt.Errorf("wait: %v, want ErrSignalTimeout", err)
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		got, err := await(h, wf, id)
		if err != nil || got != "gave up" {
			t.Fatalf("%q %v", got, err)
		}
		// The timeout is recorded: the signal step ended without a message,
		// and a signal sent now finds the execution finished.
		wantIs(t, h.engine().SendSignal(h.ctx(), id, "go", 1), app.ErrExecutionFinished)
	})

	t.Run("an execution that timed out and a wait that ran out are distinct errors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		slow := app.Register(h.reg, "slow", func(ctx context.Context, _ int) (int, error) {
			started <- struct{}{}
			select {
			case <-release:
				return 1, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
		stuck := app.Register(h.reg, "stuck", func(ctx context.Context, _ int) (int, error) {
			if err := app.Sleep(ctx, time.Hour); err != nil {
				return 0, err
			}
			return 1, nil
		})
		h.worker(app.WorkerOptions{})

		id := dispatch(h, slow, 1)
		<-started
		_, err := h.engine().WaitFor(h.ctx(), id, app.WithWaitTimeout(50*time.Millisecond))
		wantIs(t, err, app.ErrExpired)
		wantIs(t, err, app.ErrDeadline)
		wantNotIs(t, err, app.ErrTimedOut)
		close(release)
		h.wait(id)

		id = dispatch(h, stuck, 1, app.WithMaxDuration(200*time.Millisecond))
		res := h.wait(id)
		if res.State != domain.ExecutionTimedOut {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrTimedOut)
		wantIs(t, res.Err(), app.ErrDeadline)
		wantNotIs(t, res.Err(), app.ErrExpired)
		_, err = await(h, stuck, id)
		wantIs(t, err, app.ErrTimedOut)
		wantNotIs(t, err, app.ErrExpired)
	})
}
