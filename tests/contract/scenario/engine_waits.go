package scenario

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func engineWaits(t *testing.T, newStore StoreFactory) {
	t.Run("a wait that times out returns ErrExpired and the execution still completes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		slow := app.Register(h.reg, "slow", func(context.Context, int) (string, error) {
			started <- struct{}{}
			<-release
			return "finally", nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, slow, 1)
		<-started
		_, err := h.engine().WaitFor(h.ctx(), id, app.WithWaitTimeout(50*time.Millisecond))
		wantIs(t, err, app.ErrExpired)
		ctx, cancel := context.WithTimeout(h.ctx(), 50*time.Millisecond)
		_, err = h.engine().WaitFor(ctx, id)
		cancel()
		wantIs(t, err, app.ErrExpired)
		wantIs(t, err, context.DeadlineExceeded)
		close(release)
		got, err := await(h, slow, id)
		if err != nil || got != "finally" {
			t.Fatalf("%q %v", got, err)
		}
	})

	t.Run("a wait with no notifier times out the same way", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		slow := app.Register(h.reg, "never", func(ctx context.Context, _ int) (int, error) { return 0, nil })
		id := dispatch(h, slow, 1) // no worker: it stays pending
		_, err := h.engine().WaitFor(h.ctx(), id, app.WithWaitTimeout(30*time.Millisecond))
		wantIs(t, err, app.ErrExpired)
	})

	t.Run("waiting on a finished execution returns at once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "quick", func(context.Context, int) (int, error) { return 5, nil })
		h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1)
		h.wait(id)
		res, err := h.engine().WaitFor(h.ctx(), id, app.WithWaitTimeout(time.Nanosecond+time.Millisecond))
		if err != nil || string(res.Value) != "5" {
			t.Fatalf("%+v %v", res, err)
		}
		_, err = h.engine().WaitFor(h.ctx(), "no-such-execution")
		wantIs(t, err, app.ErrNotFound)
	})

	t.Run("cancelling a pending execution", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "later", func(context.Context, int) (int, error) { return 1, nil })
		id := dispatch(h, fn, 1, app.WithDelay(time.Hour))
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		res, err := h.engine().WaitFor(h.ctx(), id)
		if err != nil || res.State != domain.ExecutionCancelled {
			t.Fatalf("%+v %v", res, err)
		}
		wantIs(t, res.Err(), app.ErrCancelled)
	})

	t.Run("cancelling a running execution cancels its context and waiters get ErrCancelled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		started := make(chan struct{}, 1)
		cause := make(chan error, 1)
		blocker := app.Register(h.reg, "blocker", func(ctx context.Context, _ int) (int, error) {
			started <- struct{}{}
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return 1, nil // a late result must never land
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, blocker, 1)
		<-started
		waitErr := make(chan error, 1)
		go func() {
			_, err := await(h, blocker, id)
			waitErr <- err
		}()
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-cause:
			wantIs(t, c, app.ErrCancelled)
		case <-time.After(testTimeout):
			t.Fatal("the running task's context was never cancelled")
		}
		wantIs(t, <-waitErr, app.ErrCancelled)
		res, err := h.engine().ResultOf(h.ctx(), id)
		if err != nil || res.State != domain.ExecutionCancelled || res.Error.Message != "execution cancelled" {
			t.Fatalf("ResultOf: %+v %v", res, err)
		}
		wres, err := h.engine().WaitFor(h.ctx(), id)
		if err != nil || wres.State != res.State || !errors.Is(wres.Err(), app.ErrCancelled) {
			t.Fatalf("WaitFor and ResultOf disagree: %+v vs %+v (%v)", wres, res, err)
		}
	})

	t.Run("cancelling a completed execution is a no-op and an unknown id is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "done", func(context.Context, int) (int, error) { return 1, nil })
		h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1)
		h.wait(id)
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		if res := h.wait(id); res.State != domain.ExecutionCompleted {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, h.engine().Cancel(h.ctx(), "no-such-execution"), app.ErrNotFound)
	})

	t.Run("cancelling a workflow cancels its running child", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(app.Config{NoInlineSteps: true, PollInterval: 20 * time.Millisecond}))
		childStarted := make(chan struct{}, 1)
		childCause := make(chan error, 1)
		child := app.Register(h.reg, "child", func(ctx context.Context, _ int) (int, error) {
			childStarted <- struct{}{}
			<-ctx.Done()
			childCause <- context.Cause(ctx)
			return 1, nil
		})
		parent := app.Register(h.reg, "parent", func(ctx context.Context, _ int) (int, error) {
			return child.Call(ctx, 1)
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, parent, 1)
		<-childStarted
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		wantIs(t, <-childCause, app.ErrCancelled)
		res := h.wait(id)
		wantIs(t, res.Err(), app.ErrCancelled)
	})
}
