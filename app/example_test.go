package app_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
)

// A workflow is a registered function that calls other registered
// functions; each call is a checkpointed step. Dispatch persists a run,
// a worker runs it, and Await returns its result. (memstore keeps the
// example self-contained; use SQLite or PostgreSQL to survive restarts.)
func Example() {
	reg := app.NewRegistry()
	upper := app.Register(reg, "upper", func(_ context.Context, s string) (string, error) {
		return strings.ToUpper(s), nil
	})
	greet := app.Register(reg, "greet", func(ctx context.Context, name string) (string, error) {
		loud, err := upper.Call(ctx, name) // a step: recorded once, replayed after a crash
		if err != nil {
			return "", err
		}
		return "hello, " + loud, nil
	})

	ctx := context.Background()
	eng, stop := startExample(ctx, reg)
	defer stop()

	id, err := greet.Dispatch(ctx, eng, "ada")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := greet.Await(ctx, eng, id)
	fmt.Println(out, err)
	// Output: hello, ADA <nil>
}

// Map fans out one step per input and returns the results in input
// order; the calls are numbered in argument order, so a replay finds each
// one again.
func ExampleFunction_Map() {
	reg := app.NewRegistry()
	square := app.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	sum := app.Register(reg, "sum-of-squares", func(ctx context.Context, ns []int) (int, error) {
		squares, err := square.Map(ctx, ns)
		if err != nil {
			return 0, err
		}
		total := 0
		for _, s := range squares {
			total += s
		}
		return total, nil
	})

	ctx := context.Background()
	eng, stop := startExample(ctx, reg)
	defer stop()
	id, _ := sum.Dispatch(ctx, eng, []int{1, 2, 3, 4})
	fmt.Println(sum.Await(ctx, eng, id))
	// Output: 30 <nil>
}

// A workflow waits for an external signal (an approval, a webhook); while
// it waits it holds no goroutine once parked. WithSignalTimeout bounds the
// wait.
func ExampleWaitForSignal() {
	reg := app.NewRegistry()
	approval := app.Register(reg, "approval", func(ctx context.Context, claim string) (string, error) {
		by, err := app.WaitForSignal[string](ctx, "approve", app.WithSignalTimeout(72*time.Hour))
		if err != nil {
			return "", err
		}
		return claim + " approved by " + by, nil
	})

	ctx := context.Background()
	eng, stop := startExample(ctx, reg)
	defer stop()
	id, _ := approval.Dispatch(ctx, eng, "exp-7")
	if err := eng.SendSignal(ctx, id, "approve", "bo"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(approval.Await(ctx, eng, id))
	// Output: exp-7 approved by bo <nil>
}

// Patched lets a changed workflow resume runs recorded by the old code on
// the old path while new runs take the new one.
func ExamplePatched() {
	reg := app.NewRegistry()
	receipt := app.Register(reg, "receipt", func(_ context.Context, order string) (string, error) {
		return "receipt for " + order, nil
	})
	checkout := app.Register(reg, "checkout", func(ctx context.Context, order string) (string, error) {
		if app.Patched(ctx, "send-receipt") { // true for new runs
			return receipt.Call(ctx, order)
		}
		return "no receipt", nil // the path runs recorded before the change keep
	})

	ctx := context.Background()
	eng, stop := startExample(ctx, reg)
	defer stop()
	id, _ := checkout.Dispatch(ctx, eng, "o-1")
	fmt.Println(checkout.Await(ctx, eng, id))
	// Output: receipt for o-1 <nil>
}

// startExample runs an engine and one worker on an in-memory store.
func startExample(ctx context.Context, reg *app.Registry) (*app.Engine, func()) {
	st := memstore.New()
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		panic(err)
	}
	w, err := eng.NewWorker(app.WorkerOptions{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	return eng, func() {
		cancel()
		<-done
		_ = eng.Close()
		_ = st.Close()
	}
}
