package scenario

import (
	"context"
	"fmt"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func engineSignals(t *testing.T, newStore StoreFactory) {
	type approval struct {
		OK bool   `json:"ok"`
		By string `json:"by"`
	}

	t.Run("a workflow waits for a signal and gets its payload", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		waiting := make(chan struct{}, 1)
		wf := app.Register(h.reg, "approve", func(ctx context.Context, _ int) (string, error) {
			waiting <- struct{}{}
			a, err := app.WaitForSignal[approval](ctx, "approval")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%v by %s", a.OK, a.By), nil
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 1})
		id := dispatch(h, wf, 1)
		<-waiting
		if err := h.engine().SendSignal(h.ctx(), id, "approval", approval{OK: true, By: "ana"}); err != nil {
			t.Fatal(err)
		}
		got, err := await(h, wf, id)
		if err != nil || got != "true by ana" {
			t.Fatalf("%q %v", got, err)
		}
		wantIs(t, h.engine().SendSignal(h.ctx(), id, "approval", approval{}), app.ErrExecutionFinished)
		wantIs(t, h.engine().SendSignal(h.ctx(), "no-such-execution", "approval", approval{}), app.ErrNotFound)
	})

	t.Run("a signal sent before the wait is buffered", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		gate := make(chan struct{})
		wf := app.Register(h.reg, "late-waiter", func(ctx context.Context, _ int) (int, error) {
			<-gate
			return app.WaitForSignal[int](ctx, "n")
		})
		id := dispatch(h, wf, 1)
		if err := h.engine().SendSignal(h.ctx(), id, "n", 7); err != nil {
			t.Fatal(err)
		}
		h.worker(app.WorkerOptions{})
		close(gate)
		got, err := await(h, wf, id)
		if err != nil || got != 7 {
			t.Fatalf("%d %v", got, err)
		}
	})

	t.Run("two signal names are consumed in sequence and three sends arrive in order", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		wf := app.Register(h.reg, "mailbox", func(ctx context.Context, _ int) ([]int, error) {
			var out []int
			first, err := app.WaitForSignal[int](ctx, "first")
			if err != nil {
				return nil, err
			}
			out = append(out, first)
			for range 3 {
				v, err := app.WaitForSignal[int](ctx, "fifo")
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		})
		id := dispatch(h, wf, 1)
		for _, v := range []int{1, 2, 3} {
			if err := h.engine().SendSignal(h.ctx(), id, "fifo", v); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.engine().SendSignal(h.ctx(), id, "first", 0); err != nil {
			t.Fatal(err)
		}
		h.worker(app.WorkerOptions{})
		got, err := await(h, wf, id)
		if err != nil || fmt.Sprint(got) != "[0 1 2 3]" {
			t.Fatalf("%v %v", got, err)
		}
	})

	t.Run("a payload that does not decode is a serialization error", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		wf := app.Register(h.reg, "typed", func(ctx context.Context, _ int) (int, error) {
			return app.WaitForSignal[int](ctx, "n")
		})
		id := dispatch(h, wf, 1)
		if err := h.engine().SendSignal(h.ctx(), id, "n", "not a number"); err != nil {
			t.Fatal(err)
		}
		h.worker(app.WorkerOptions{})
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrSerialization)
	})

	t.Run("a cancelled signal wait ends with ErrCancelled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		waiting := make(chan struct{}, 1)
		got := make(chan error, 1)
		wf := app.Register(h.reg, "waits-forever", func(ctx context.Context, _ int) (int, error) {
			waiting <- struct{}{}
			_, err := app.WaitForSignal[int](ctx, "never")
			got <- err
			return 0, err
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		<-waiting
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		wantIs(t, <-got, app.ErrCancelled)
		wantIs(t, h.wait(id).Err(), app.ErrCancelled)
		wantIs(t, h.engine().SendSignal(h.ctx(), id, "never", 1), app.ErrExecutionFinished)
	})

	t.Run("helpers outside a task return ErrNotInTask", func(t *testing.T) {
		t.Parallel()
		_, err := app.WaitForSignal[int](context.Background(), "x")
		wantIs(t, err, app.ErrNotInTask)
		wantIs(t, app.AddCounter(context.Background(), "x", 1), app.ErrNotInTask)
		wantIs(t, app.SetState(context.Background(), "x", 1), app.ErrNotInTask)
	})
}
