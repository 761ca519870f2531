package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func engineIdempotency(t *testing.T, newStore StoreFactory) {
	falsey := []string{`0`, `false`, `""`, `[]`, `{}`, `null`}
	for _, mode := range []string{"idempotent", "cached"} {
		t.Run(mode+" falsey results are reused and the body runs once", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, newStore)
			var runs counter
			opt := app.WithIdempotent()
			if mode == "cached" {
				opt = app.WithCache(0)
			}
			value := app.Register(h.reg, "value", func(_ context.Context, v string) (json.RawMessage, error) {
				runs.inc(v)
				return json.RawMessage(v), nil
			}, opt)
			caller := app.Register(h.reg, "caller", func(ctx context.Context, v string) (json.RawMessage, error) {
				return value.Call(ctx, v)
			})
			h.worker(app.WorkerOptions{})
			for _, v := range falsey {
				for i := range 2 {
					got, err := await(h, caller, dispatch(h, caller, v))
					if err != nil || string(got) != v {
						t.Fatalf("value %s run %d: got %s, %v", v, i, got, err)
					}
				}
				if n := runs.get(v); n != 1 {
					t.Fatalf("value %s: body ran %d times, want 1", v, n)
				}
			}
		})
	}

	t.Run("concurrent idempotent callers share one run", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		release := make(chan struct{})
		slow := app.Register(h.reg, "slow", func(context.Context, int) (int, error) {
			runs.inc("slow")
			<-release
			return 7, nil
		}, app.WithIdempotent())
		caller := app.Register(h.reg, "caller", func(ctx context.Context, i int) (int, error) {
			return slow.Call(ctx, 1)
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 30})
		ids := make([]string, 20)
		for i := range ids {
			ids[i] = dispatch(h, caller, i)
		}
		eventually(t, "the idempotent body to start", func() bool { return runs.get("slow") >= 1 })
		close(release)
		for _, id := range ids {
			got, err := await(h, caller, id)
			if err != nil || got != 7 {
				t.Fatalf("%s: %d %v", id, got, err)
			}
		}
		if n := runs.get("slow"); n != 1 {
			t.Fatalf("body ran %d times, want 1", n)
		}
	})

	t.Run("cached results expire after their ttl", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		var runs counter
		cached := app.Register(h.reg, "cached", func(_ context.Context, n int) (string, error) {
			return fmt.Sprintf("run-%d", runs.inc("n")), nil
		}, app.WithCache(time.Minute))
		caller := app.Register(h.reg, "caller", func(ctx context.Context, n int) (string, error) {
			return cached.Call(ctx, n)
		})
		h.worker(app.WorkerOptions{})
		first, err := await(h, caller, dispatch(h, caller, 5))
		if err != nil || first != "run-1" {
			t.Fatalf("%q %v", first, err)
		}
		fc.Advance(59 * time.Second)
		second, err := await(h, caller, dispatch(h, caller, 5))
		if err != nil || second != "run-1" {
			t.Fatalf("within ttl: %q %v", second, err)
		}
		fc.Advance(2 * time.Second)
		third, err := await(h, caller, dispatch(h, caller, 5))
		if err != nil || third != "run-2" {
			t.Fatalf("after ttl: %q %v", third, err)
		}
	})

	t.Run("the idempotency key ignores object key order", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		fn := app.Register(h.reg, "keyed", func(_ context.Context, in map[string]int) (int, error) {
			runs.inc("n")
			return in["a"] + in["b"], nil
		}, app.WithIdempotent())
		app.Register(h.reg, "caller", func(ctx context.Context, raw json.RawMessage) (int, error) {
			var in map[string]int
			if err := json.Unmarshal(raw, &in); err != nil {
				return 0, err
			}
			return fn.Call(ctx, in)
		})
		h.worker(app.WorkerOptions{})
		for _, in := range []string{`{"a":1,"b":2}`, `{"b":2,"a":1}`} {
			id, err := h.engine().DispatchByName(h.ctx(), "caller", json.RawMessage(in))
			if err != nil {
				t.Fatal(err)
			}
			if res := h.wait(id); res.State != domain.ExecutionCompleted || string(res.Value) != "3" {
				t.Fatalf("%s: %+v", in, res)
			}
		}
		if runs.get("n") != 1 {
			t.Fatalf("body ran %d times", runs.get("n"))
		}
	})
}
