package redisnotify_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract/scenario"
)

// engineNotifiers gives every scenario its own notifier, in its own
// namespace, on one shared client.
func engineNotifiers(t *testing.T) func(t *testing.T) ports.Notifier {
	client := newClient(t, redisOptions(t), randomName("engine"))
	return func(t *testing.T) ports.Notifier {
		return newNotifier(t, client, fastConfig(randomName("prefix")+":"))
	}
}

func newMemStore(t *testing.T) ports.Store {
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestEngineOnMemstore(t *testing.T) {
	t.Parallel()
	scenario.RunEngine(t, newMemStore, scenario.EngineCaps{Name: "memstore + redis", Notifier: engineNotifiers(t)})
}

func TestEngineOnSQLite(t *testing.T) {
	t.Parallel()
	scenario.RunEngine(t, func(t *testing.T) ports.Store {
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "stent.db")})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, scenario.EngineCaps{Name: "sqlite + redis", Notifier: engineNotifiers(t)})
}

// TestEngineRidesOutARedisOutage stops Redis while a wait is in progress:
// the wait still finishes (by polling), the engine logs the notifier
// failure once, and once Redis is back the engine's events flow again.
func TestEngineRidesOutARedisOutage(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	n := newNotifier(t, client, fastConfig(randomName("prefix")+":"))

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
	var engLogs logBuffer
	eng, err := app.New(app.Deps{Store: newMemStore(t), Notifier: n, Registry: reg, Logger: engLogs.logger()},
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

	// A wait in progress when Redis goes away.
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
	srv.stop()
	for ev := next(t, watch); ev.Kind != domain.EventReset; ev = next(t, watch) {
	}
	close(release) // completes during the outage: its events cannot be sent
	if r := <-awaited; r.err != nil || r.v != 42 {
		t.Fatalf("Await during the outage = %d, %v; want 42", r.v, r.err)
	}

	srv.restart(t)
	for ev := next(t, watch); ev.Kind != domain.EventReset; ev = next(t, watch) {
	}
	// The engine's events reach subscribers again.
	id2 := "after-outage-" + randomName("exec")
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
	if ev := next(t, watch2); ev.Kind != domain.EventExecution || ev.ID != id2 {
		t.Fatalf("got %+v, want an execution event of %s", ev, id2)
	}
	if c := engLogs.count("level=WARN"); c != 1 {
		t.Fatalf("the engine logged %d warnings during the outage, want 1:\n%s", c, engLogs.String())
	}
}
