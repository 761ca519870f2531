package scenario

import (
	"context"
	"errors"
	"testing"

	"github.com/stenthq/stent/app"
)

func engineData(t *testing.T, newStore StoreFactory) {
	t.Run("counters and state are visible in StateOf", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		step := app.Register(h.reg, "step", func(ctx context.Context, n int) (int, error) {
			return n, app.AddCounter(ctx, "volume", float64(n))
		})
		wf := app.Register(h.reg, "context", func(ctx context.Context, _ int) (string, error) {
			if err := app.InitData(ctx, map[string]float64{"abc": 40}, map[string]any{"owner": "ana"}); err != nil {
				return "", err
			}
			if err := app.Counter(ctx, "progress").Add(1); err != nil {
				return "", err
			}
			if _, err := step.Map(ctx, []int{10, 20}); err != nil {
				return "", err
			}
			if err := app.SetState(ctx, "status", "ok"); err != nil {
				return "", err
			}
			return "done", app.SetState(ctx, "phase", "done")
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		h.wait(id)
		v, err := h.engine().StateOf(h.ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Counters["progress"] != 1 || v.Counters["volume"] != 30 || v.Counters["abc"] != 40 {
			t.Fatalf("counters %v", v.Counters)
		}
		for k, want := range map[string]string{"owner": `"ana"`, "status": `"ok"`, "phase": `"done"`} {
			if string(v.CustomState[k]) != want {
				t.Fatalf("state %s = %s, want %s (all %v)", k, v.CustomState[k], want, v.CustomState)
			}
		}
		if v.Outcome == nil || string(v.Outcome.Value) != `"done"` || len(v.Progress) < 3 {
			t.Fatalf("view %+v", v)
		}
	})

	t.Run("counters are not double counted after a retry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		wf := app.Register(h.reg, "retrying", func(ctx context.Context, _ int) (int, error) {
			if err := app.AddCounter(ctx, "hits", 1); err != nil {
				return 0, err
			}
			if runs.inc("n") < 3 {
				return 0, errors.New("try again")
			}
			return 1, nil
		}, app.WithRetry(fastRetry))
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		h.wait(id)
		v, err := h.engine().StateOf(h.ctx(), id)
		if err != nil || v.Counters["hits"] != 1 {
			t.Fatalf("hits %v (%v), want 1", v.Counters["hits"], err)
		}
	})
}
