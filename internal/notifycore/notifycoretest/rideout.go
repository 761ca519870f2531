package notifycoretest

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Outage says how to take a notifier's backend away and bring it back.
type Outage struct {
	// Notifier is the notifier under test; the engine runs on it.
	Notifier ports.Notifier
	// Break cuts the notifier's connection (stops the server, terminates
	// the listening session).
	Break func(t *testing.T)
	// Restore brings the backend back; nil when the notifier reconnects
	// by itself after Break.
	Restore func(t *testing.T)
}

// RideOutAnOutage runs an engine on memstore and o.Notifier and breaks
// the notifier while a wait is in progress: the wait still finishes (by
// polling if need be), subscribers hear of the loss and of the
// reconnection, and afterwards the engine's events reach subscribers
// again. It returns the engine's log, for the caller's checks.
func RideOutAnOutage(t *testing.T, o Outage) *LogBuffer {
	t.Helper()
	n := o.Notifier
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
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	var logs LogBuffer
	eng, err := app.New(app.Deps{Store: store, Notifier: n, Registry: reg, Logger: logs.Logger()},
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

	// A wait in progress when the backend goes away.
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
	o.Break(t)
	NextReset(t, watch)
	close(release) // completes during the outage, or just after it
	if r := <-awaited; r.err != nil || r.v != 42 {
		t.Fatalf("Await across the outage = %d, %v; want 42", r.v, r.err)
	}
	if o.Restore != nil {
		o.Restore(t)
	}
	NextReset(t, watch) // the reconnection; the execution's own events may come first

	// The engine's events reach subscribers again.
	id2 := "after-" + RandomName("exec")
	watch2, err := n.Subscribe(ctx, domain.ExecutionTopic(id2))
	if err != nil {
		t.Fatal(err)
	}
	defer watch2.Close()
	if _, err := quick.Dispatch(ctx, eng, 1, app.WithExecutionID(id2)); err != nil {
		t.Fatal(err)
	}
	if v, err := quick.Await(ctx, eng, id2); err != nil || v != 2 {
		t.Fatalf("Await after the outage = %d, %v", v, err)
	}
	if ev := Next(t, watch2); ev.Kind != domain.EventExecution || ev.ID != id2 {
		t.Fatalf("got %+v, want an execution event of %s", ev, id2)
	}
	return &logs
}
