package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func engineBasics(t *testing.T, newStore StoreFactory) {
	t.Run("a dispatched function returns its value", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		double := app.Register(h.reg, "double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
		h.worker(app.WorkerOptions{})
		got, err := await(h, double, dispatch(h, double, 21))
		if err != nil || got != 42 {
			t.Fatalf("got %d, %v; want 42", got, err)
		}
		res, err := h.engine().ResultOf(h.ctx(), dispatch(h, double, 1))
		if err == nil && res.State.Terminal() {
			return // a fast worker may already have finished it
		}
		wantIs(t, err, app.ErrStillRunning)
	})

	t.Run("dispatching an unregistered function lists the registered names", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		app.Register(h.reg, "alpha", func(context.Context, int) (int, error) { return 0, nil })
		app.Register(h.reg, "beta", func(context.Context, int) (int, error) { return 0, nil })
		_, err := h.engine().DispatchByName(h.ctx(), "gamma", []byte(`1`))
		wantIs(t, err, app.ErrUnregisteredFunction)
		if msg := err.Error(); !strings.Contains(msg, `"gamma"`) || !strings.Contains(msg, "alpha, beta") {
			t.Fatalf("message %q should name gamma and list alpha, beta", msg)
		}
		n, err := h.store.CountExecutionsByState(h.ctx())
		if err != nil || len(n) != 0 {
			t.Fatalf("nothing should be written: %v %v", n, err)
		}
	})

	t.Run("registries are isolated from each other", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		other := app.NewRegistry()
		app.Register(other, "elsewhere", func(context.Context, int) (int, error) { return 0, nil })
		app.Register(h.reg, "here", func(context.Context, int) (int, error) { return 0, nil })
		_, err := h.engine().DispatchByName(h.ctx(), "elsewhere", []byte(`1`))
		wantIs(t, err, app.ErrUnregisteredFunction)
		if got := h.reg.Names(); len(got) != 1 || got[0] != "here" {
			t.Fatalf("registry names %v", got)
		}
	})

	t.Run("a failure surfaces the error message and code", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		boom := app.Register(h.reg, "boom", func(context.Context, int) (int, error) {
			return 0, app.Permanent(app.NewError("card_declined", "card 4242 declined"))
		})
		h.worker(app.WorkerOptions{})
		res := h.wait(dispatch(h, boom, 1))
		if res.State != domain.ExecutionFailed || res.Error == nil || res.Error.Message != "card 4242 declined" {
			t.Fatalf("result %+v", res)
		}
		if !errors.Is(res.Err(), app.NewError("card_declined", "")) {
			t.Fatalf("stored error %v should match its code", res.Err())
		}
	})

	t.Run("registration errors are returned by New", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		app.Register[int, int](h.reg, "nil", nil)
		app.Register(h.reg, "", func(context.Context, int) (int, error) { return 0, nil })
		app.Register(h.reg, "dup", func(context.Context, int) (int, error) { return 0, nil })
		app.Register(h.reg, "dup", func(context.Context, int) (int, error) { return 0, nil })
		app.Register(h.reg, "bad-retry", func(context.Context, int) (int, error) { return 0, nil },
			app.WithRetry(domain.RetryPolicy{MaxAttempts: -1}))
		app.Register(h.reg, "bad-jitter", func(context.Context, int) (int, error) { return 0, nil },
			app.WithRetry(domain.RetryPolicy{Jitter: 2}))
		_, err := app.New(app.Deps{Store: h.store, Registry: h.reg}, app.Config{})
		wantIs(t, err, app.ErrInvalidArgument)
		for _, want := range []string{`"nil"`, "empty", `"dup"`, "max attempts -1", "jitter 2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q should mention %s", err, want)
			}
		}
	})

	t.Run("bad dispatch input is rejected and nothing is written", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "takes-any", func(context.Context, any) (int, error) { return 0, nil })
		_, err := fn.Dispatch(h.ctx(), h.engine(), make(chan int))
		wantIs(t, err, app.ErrSerialization)
		_, err = fn.Dispatch(h.ctx(), h.engine(), 1, app.WithDelay(-1))
		wantIs(t, err, app.ErrInvalidArgument)
		_, err = h.engine().DispatchByName(h.ctx(), "takes-any", []byte(`{"a":`))
		wantIs(t, err, app.ErrInvalidArgument)
		n, _ := h.store.CountExecutionsByState(h.ctx())
		if len(n) != 0 {
			t.Fatalf("nothing should be written, got %v", n)
		}
	})

	t.Run("a result that does not decode into the awaited type is a serialization error", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		word := app.Register(h.reg, "word", func(context.Context, int) (string, error) { return "x", nil })
		asInt := app.Register(h.reg, "as-int", func(context.Context, int) (int, error) { return 0, nil })
		h.worker(app.WorkerOptions{})
		id := dispatch(h, word, 1)
		h.wait(id)
		_, err := await(h, asInt, id)
		wantIs(t, err, app.ErrSerialization)
	})

	t.Run("dispatch with the same idempotency key or execution id returns the first execution", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		fn := app.Register(h.reg, "once", func(context.Context, int) (int, error) { return 1, nil })
		a := dispatch(h, fn, 1, app.WithIdempotencyKey("order-42"))
		b := dispatch(h, fn, 2, app.WithIdempotencyKey("order-42"))
		c := dispatch(h, fn, 3, app.WithExecutionID("my-id"))
		d := dispatch(h, fn, 4, app.WithExecutionID("my-id"))
		if a != b || c != "my-id" || d != "my-id" {
			t.Fatalf("ids %s %s %s %s", a, b, c, d)
		}
	})

	t.Run("a batch dispatch writes every execution at once and each completes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		double := app.Register(h.reg, "double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
		ins := make([]int, 50)
		for i := range ins {
			ins[i] = i
		}
		ids, err := double.DispatchMany(h.ctx(), h.engine(), ins, app.WithPriority(3))
		if err != nil || len(ids) != len(ins) {
			t.Fatalf("DispatchMany: %d ids, %v", len(ids), err)
		}
		_, err = double.DispatchMany(h.ctx(), h.engine(), ins, app.WithExecutionID("one"))
		wantIs(t, err, app.ErrInvalidArgument)
		h.worker(app.WorkerOptions{})
		for i, id := range ids {
			got, err := await(h, double, id)
			if err != nil || got != 2*i {
				t.Fatalf("item %d: %d, %v", i, got, err)
			}
		}
		n, _ := h.store.CountExecutionsByState(h.ctx())
		if n[domain.ExecutionCompleted] != 50 {
			t.Fatalf("counts %v", n)
		}
	})

	t.Run("the root task takes routing from the registration unless the dispatch overrides it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		type input struct {
			Queue    string
			Priority int
			Delay    string
		}
		fn := app.Register(h.reg, "routed", func(_ context.Context, in input) (input, error) { return in, nil },
			app.WithPriority(5), app.WithQueue("q1"))
		id1 := dispatch(h, fn, input{Queue: "x", Priority: 9, Delay: "1h"})
		id2 := dispatch(h, fn, input{}, app.WithPriority(1), app.WithQueue("q2"))
		ex1, _ := h.store.GetExecution(h.ctx(), id1)
		ex2, _ := h.store.GetExecution(h.ctx(), id2)
		root1, _ := h.store.GetTask(h.ctx(), ex1.RootTaskID)
		root2, _ := h.store.GetTask(h.ctx(), ex2.RootTaskID)
		if root1.Priority != 5 || root1.Queue != "q1" || root2.Priority != 1 || root2.Queue != "q2" {
			t.Fatalf("root routing: %d/%s and %d/%s", root1.Priority, root1.Queue, root2.Priority, root2.Queue)
		}
		h.worker(app.WorkerOptions{})
		got, err := await(h, fn, id1)
		if err != nil || got != (input{Queue: "x", Priority: 9, Delay: "1h"}) {
			t.Fatalf("input fields must arrive intact: %+v %v", got, err)
		}
	})

	t.Run("call modes: local without an engine, auto-dispatch with one", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		inc := app.Register(h.reg, "inc", func(ctx context.Context, n int) (int, error) {
			if _, inTask := app.CurrentTask(ctx); inTask {
				runs.inc("task")
			} else {
				runs.inc("local")
			}
			return n + 1, nil
		})
		got, err := inc.Call(context.Background(), 1)
		if err != nil || got != 2 || runs.get("local") != 1 {
			t.Fatalf("local call: %d %v", got, err)
		}
		h.worker(app.WorkerOptions{})
		got, err = inc.Call(app.WithEngine(h.ctx(), h.engine()), 2)
		if err != nil || got != 3 || runs.get("task") != 1 {
			t.Fatalf("auto-dispatch: %d %v (task runs %d)", got, err, runs.get("task"))
		}
		n, _ := h.store.CountExecutionsByState(h.ctx())
		if n[domain.ExecutionCompleted] != 1 {
			t.Fatalf("auto-dispatch should persist one execution: %v", n)
		}
	})
}
