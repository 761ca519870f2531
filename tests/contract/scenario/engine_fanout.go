package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stenthq/stent/app"
)

func engineFanOut(t *testing.T, newStore StoreFactory) {
	t.Run("map returns results in input order", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		square := app.Register(h.reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
		wf := app.Register(h.reg, "squares", func(ctx context.Context, ns []int) ([]int, error) {
			return square.Map(ctx, ns)
		})
		h.worker(app.WorkerOptions{})
		got, err := await(h, wf, dispatch(h, wf, []int{1, 2, 3, 4, 5}))
		if err != nil || fmt.Sprint(got) != "[1 4 9 16 25]" {
			t.Fatalf("%v %v", got, err)
		}
		empty, err := await(h, wf, dispatch(h, wf, []int{}))
		if err != nil || len(empty) != 0 {
			t.Fatalf("empty map: %v %v", empty, err)
		}
		local, err := square.Map(context.Background(), []int{3, 4})
		if err != nil || fmt.Sprint(local) != "[9 16]" {
			t.Fatalf("local map: %v %v", local, err)
		}
	})

	t.Run("one failing map item fails the map with its error", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		errOdd := app.NewError("odd", "odd input")
		even := app.Register(h.reg, "even", func(_ context.Context, n int) (int, error) {
			if n%2 == 1 {
				return 0, app.Permanent(errOdd)
			}
			return n, nil
		})
		wf := app.Register(h.reg, "evens", func(ctx context.Context, ns []int) ([]int, error) {
			return even.Map(ctx, ns)
		})
		h.worker(app.WorkerOptions{})
		_, err := await(h, wf, dispatch(h, wf, []int{2, 4, 5, 6}))
		if !errors.Is(err, errOdd) {
			t.Fatalf("error %v should match the failing item's code", err)
		}
	})

	t.Run("async futures gather results", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		inc := app.Register(h.reg, "inc", func(_ context.Context, n int) (int, error) { return n + 1, nil })
		wf := app.Register(h.reg, "gather", func(ctx context.Context, n int) (int, error) {
			a := inc.Async(ctx, n)
			b := inc.Async(ctx, n*10)
			outs, err := app.AwaitAll(ctx, a, b)
			if err != nil {
				return 0, err
			}
			c, err := inc.Async(ctx, outs[0]+outs[1]).Get(ctx)
			return c, err
		})
		h.worker(app.WorkerOptions{})
		got, err := await(h, wf, dispatch(h, wf, 1))
		if err != nil || got != 14 {
			t.Fatalf("%d %v; want 14", got, err)
		}
	})

	t.Run("four children of a fan-out run at the same time", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var arrived atomic.Int32
		all := make(chan struct{})
		child := app.Register(h.reg, "child", func(ctx context.Context, n int) (int, error) {
			if arrived.Add(1) == 4 {
				close(all)
			}
			select { // a barrier: only passes if all four overlap
			case <-all:
				return n, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
		wf := app.Register(h.reg, "fan", func(ctx context.Context, _ int) ([]int, error) {
			return child.Map(ctx, []int{1, 2, 3, 4})
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 10})
		got, err := await(h, wf, dispatch(h, wf, 0))
		if err != nil || fmt.Sprint(got) != "[1 2 3 4]" {
			t.Fatalf("%v %v", got, err)
		}
	})

	t.Run("a worker with one slot runs a parent and its children without deadlock", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(app.Config{NoInlineSteps: true, PollInterval: 20e6}))
		leaf := app.Register(h.reg, "leaf", func(_ context.Context, n int) (int, error) { return n, nil })
		mid := app.Register(h.reg, "mid", func(ctx context.Context, n int) (int, error) { return leaf.Call(ctx, n) })
		top := app.Register(h.reg, "top", func(ctx context.Context, n int) (int, error) {
			a, err := mid.Call(ctx, n)
			if err != nil {
				return 0, err
			}
			ns := make([]int, 20)
			for i := range ns {
				ns[i] = i
			}
			rs, err := leaf.Map(ctx, ns)
			if err != nil {
				return 0, err
			}
			for _, r := range rs {
				a += r
			}
			return a, nil
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 1})
		got, err := await(h, top, dispatch(h, top, 1))
		if err != nil || got != 1+190 {
			t.Fatalf("%d %v; want 191", got, err)
		}
	})
}
