package stentfx

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/stenthq/stent/app"
)

// Workers runs the process's workers: Start launches them without
// blocking (each waits for the store to connect first), Stop drains them
// within a deadline, releasing the leases of tasks still running then.
type Workers struct {
	eng     *app.Engine
	log     *slog.Logger
	ready   <-chan struct{}
	timeout time.Duration
	workers []*app.Worker

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// WorkersOptions configures NewWorkers.
type WorkersOptions struct {
	// Workers lists one entry per worker to run; empty runs none (the
	// process then only serves the API).
	Workers []app.WorkerOptions
	// StoreReady, when set, is awaited before the workers run (see
	// StoreReady: closed once the readiness step connected the store).
	StoreReady <-chan struct{}
	// ShutdownTimeout bounds Stop's drain (default 30s); Stop's own
	// context deadline may cut it shorter.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// NewWorkers creates the workers on eng (validating their options); Start
// runs them.
func NewWorkers(eng *app.Engine, o WorkersOptions) (*Workers, error) {
	w := &Workers{eng: eng, log: o.Logger, ready: o.StoreReady, timeout: o.ShutdownTimeout}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.timeout <= 0 {
		w.timeout = 30 * time.Second
	}
	for _, opts := range o.Workers {
		wk, err := eng.NewWorker(opts)
		if err != nil {
			return nil, err
		}
		w.workers = append(w.workers, wk)
	}
	return w, nil
}

// List returns the workers.
func (w *Workers) List() []*app.Worker { return w.workers }

// Start runs every worker in its own goroutine and returns at once. A
// second call does nothing.
func (w *Workers) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, wk := range w.workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			if w.ready != nil {
				select {
				case <-w.ready:
				case <-ctx.Done():
					return
				}
			}
			if err := wk.Run(ctx); err != nil && !errors.Is(err, app.ErrClosed) {
				w.log.Error("worker stopped with an error", "worker_id", wk.ID(), "error", err)
			}
		}()
	}
}

// Stop drains every worker at once: they stop claiming, running tasks get
// until the drain deadline to finish, and the rest are cancelled and their
// leases released so another worker takes them over. The deadline is the
// shutdown timeout, or earlier when ctx's deadline leaves less (keeping a
// little of ctx for the hooks that run after this one).
func (w *Workers) Stop(ctx context.Context) error {
	deadline := time.Now().Add(w.timeout)
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if cut := d.Add(-min(time.Second, left/10)); cut.Before(deadline) {
			deadline = cut
		}
	}
	dctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	var drains sync.WaitGroup
	for _, wk := range w.workers {
		drains.Add(1)
		go func() {
			defer drains.Done()
			if err := wk.Drain(dctx); err != nil {
				w.log.Warn("draining a worker failed", "worker_id", wk.ID(), "error", err)
			}
		}()
	}
	drains.Wait()
	w.mu.Lock()
	if w.cancel != nil {
		w.cancel()
	}
	w.mu.Unlock()
	w.wg.Wait()
	return nil
}

// Ready reports whether every worker is ready (claiming). With no workers
// it is true.
func (w *Workers) Ready() bool {
	for _, wk := range w.workers {
		if wk.State() != app.WorkerReady {
			return false
		}
	}
	return true
}
