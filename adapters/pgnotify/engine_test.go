package pgnotify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract/scenario"
)

func newMemStore(t *testing.T) ports.Store {
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestEngineOnMemstore runs the engine scenarios with every engine on its
// own notifier (own prefix, own listening session) sharing one small pool.
func TestEngineOnMemstore(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	scenario.RunEngine(t, newMemStore, scenario.EngineCaps{Name: "memstore + postgres notifier",
		Notifier: func(t *testing.T) ports.Notifier {
			return newNotifier(t, pool, fastConfig(randomName("prefix")+":", randomName("engine")))
		}})
}

// TestEngineRidesOutALostListener terminates the listening session while a
// wait is in progress: the wait finishes, and the engine's events reach
// subscribers again after the reconnection.
func TestEngineRidesOutALostListener(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	appName := randomName("engine")
	n := newNotifier(t, pool, fastConfig(randomName("prefix")+":", appName))

	reg := app.NewRegistry()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := app.Register(reg, "slow", func(ctx context.Context, in int) (int, error) {
		started <- struct{}{}
		select {
		case <-release:
			return 2 * in, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	quick := app.Register(reg, "quick", func(_ context.Context, in int) (int, error) { return in + 1, nil })
	eng, err := app.New(app.Deps{Store: newMemStore(t), Notifier: n, Registry: reg},
		app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	w, err := eng.NewWorker(app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-runDone })
	<-w.Ready()

	id, err := slow.Dispatch(ctx, eng, 21)
	if err != nil {
		t.Fatal(err)
	}
	watch, err := n.Subscribe(ctx, domain.ExecutionTopic(id))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	type result struct {
		v   int
		err error
	}
	awaited := make(chan result, 1)
	go func() {
		v, err := slow.Await(ctx, eng, id)
		awaited <- result{v, err}
	}()
	<-started
	if got := terminate(t, pool, appName); got != 1 {
		t.Fatalf("terminated %d sessions", got)
	}
	close(release)
	if r := <-awaited; r.err != nil || r.v != 42 {
		t.Fatalf("Await across the lost listener = %d, %v; want 42", r.v, r.err)
	}
	for resets := 0; resets < 2; { // lost, then reconnected; the execution's own events may come between
		if ev := next(t, watch); ev.Kind == domain.EventReset {
			resets++
		}
	}
	id2 := "after-" + randomName("exec")
	watch2, err := n.Subscribe(ctx, domain.ExecutionTopic(id2))
	if err != nil {
		t.Fatal(err)
	}
	defer watch2.Close()
	if _, err := quick.Dispatch(ctx, eng, 1, app.WithExecutionID(id2)); err != nil {
		t.Fatal(err)
	}
	if v, err := quick.Await(ctx, eng, id2); err != nil || v != 2 {
		t.Fatalf("Await after the reconnection = %d, %v", v, err)
	}
	if ev := next(t, watch2); ev.Kind != domain.EventExecution || ev.ID != id2 {
		t.Fatalf("got %+v, want an execution event of %s", ev, id2)
	}
}
