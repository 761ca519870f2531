package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func engineRouting(t *testing.T, newStore StoreFactory) {
	t.Run("tasks go only to workers serving their queue", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		where := app.Register(h.reg, "where", func(ctx context.Context, _ int) (string, error) {
			tc, _ := app.CurrentTask(ctx)
			return tc.WorkerID, nil
		})
		h.worker(app.WorkerOptions{ID: "billing-worker", Queues: []string{"billing"}})
		h.worker(app.WorkerOptions{ID: "email-worker", Queues: []string{"email"}})
		for range 5 {
			got, err := await(h, where, dispatch(h, where, 1, app.WithQueue("billing")))
			if err != nil || got != "billing-worker" {
				t.Fatalf("billing task ran on %q (%v)", got, err)
			}
			got, err = await(h, where, dispatch(h, where, 1, app.WithQueue("email")))
			if err != nil || got != "email-worker" {
				t.Fatalf("email task ran on %q (%v)", got, err)
			}
		}
	})

	t.Run("a task in a queue nobody serves stays pending and visible", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "orphan", func(context.Context, int) (int, error) { return 1, nil })
		h.worker(app.WorkerOptions{Queues: []string{"other"}})
		id := dispatch(h, fn, 1, app.WithQueue("nobody"))
		// The worker's own claim with its filters finds nothing.
		got, err := h.store.ClaimTasks(h.ctx(), ports.ClaimParams{WorkerID: "probe", Queues: []string{"other", domain.DefaultQueue},
			Functions: []string{"orphan"}, Limit: 10, Now: time.Now(), Lease: time.Minute})
		if err != nil || len(got) != 0 {
			t.Fatalf("claim for other queues: %v %v", got, err)
		}
		depth, err := h.engine().QueueDepth(h.ctx())
		if err != nil || depth["nobody"] != 1 {
			t.Fatalf("queue depth %v %v", depth, err)
		}
		if _, err := h.engine().ResultOf(h.ctx(), id); err == nil {
			t.Fatal("execution should still be pending")
		}
	})

	t.Run("tagged tasks go to workers sharing a tag; untagged tasks go anywhere", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		where := app.Register(h.reg, "where", func(ctx context.Context, _ int) (string, error) {
			tc, _ := app.CurrentTask(ctx)
			return tc.WorkerID, nil
		})
		h.worker(app.WorkerOptions{ID: "gpu-worker", Tags: []string{"gpu"}})
		h.worker(app.WorkerOptions{ID: "cpu-worker", Tags: []string{"cpu"}})
		for range 5 {
			got, err := await(h, where, dispatch(h, where, 1, app.WithTags("gpu")))
			if err != nil || got != "gpu-worker" {
				t.Fatalf("gpu task ran on %q (%v)", got, err)
			}
		}
		seen := map[string]bool{}
		for range 20 {
			got, err := await(h, where, dispatch(h, where, 1))
			if err != nil {
				t.Fatal(err)
			}
			seen[got] = true
		}
		if !seen["gpu-worker"] && !seen["cpu-worker"] {
			t.Fatalf("untagged tasks ran on %v", seen)
		}
	})

	t.Run("a sleeping workflow completes on a cluster whose only worker has tags", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		nap := app.Register(h.reg, "nap", func(ctx context.Context, _ int) (string, error) {
			if err := app.Sleep(ctx, 20*time.Millisecond); err != nil {
				return "", err
			}
			return "rested", nil
		})
		h.worker(app.WorkerOptions{Tags: []string{"special"}})
		got, err := await(h, nap, dispatch(h, nap, 1))
		if err != nil || got != "rested" {
			t.Fatalf("%q %v", got, err)
		}
	})
}
