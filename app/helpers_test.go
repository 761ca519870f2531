package app_test

import (
	"context"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// newEngine returns an engine over st and reg with the default config.
// When the test ends the engine is closed, then st (after any worker that
// runWorker started, which stops first).
func newEngine(t *testing.T, st ports.Store, reg *app.Registry) *app.Engine {
	t.Helper()
	t.Cleanup(func() { _ = st.Close() })
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// runWorker starts a worker of eng with default options, running until
// the test ends (it is stopped and waited for before the engine closes).
func runWorker(t *testing.T, eng *app.Engine) *app.Worker {
	t.Helper()
	w := newWorker(t, eng)
	startRun(t, w)
	return w
}

// newWorker returns a worker of eng with default options, not yet
// running.
func newWorker(t *testing.T, eng *app.Engine) *app.Worker {
	t.Helper()
	w, err := eng.NewWorker(app.WorkerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startRun runs w until the test ends, then stops it and waits for Run to
// return.
func startRun(t *testing.T, w *app.Worker) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}
