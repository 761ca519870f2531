package app_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// heldClaimStore holds the first claim that returns tasks, after the
// store has claimed them and before the worker gets them, until release
// is closed.
type heldClaimStore struct {
	ports.Store
	once    sync.Once
	held    chan struct{} // closed when a claim with tasks is held
	release chan struct{}
}

func (s *heldClaimStore) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	ts, err := s.Store.ClaimTasks(ctx, p)
	if err == nil && len(ts) > 0 {
		s.once.Do(func() {
			close(s.held)
			<-s.release
		})
	}
	return ts, err
}

// Regression (a -race failure on a clean CI run): Drain, called while a
// claim was returning from the store, waited on the worker's runs before
// the claim had started its run, so it could return with that run still
// to come. Drain now waits for a claim in flight to start its runs, and
// then for those runs.
func TestDrainWaitsForTheRunsOfAClaimInFlight(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var finished atomic.Bool
	reg := app.NewRegistry()
	job := app.Register(reg, "job", func(_ context.Context, n int) (int, error) {
		finished.Store(true)
		return n, nil
	})
	st := &heldClaimStore{Store: memstore.New(), held: make(chan struct{}), release: make(chan struct{})}
	eng := newEngine(t, st, reg)
	w := newWorker(t, eng)
	if _, err := job.Dispatch(ctx, eng, 1); err != nil {
		t.Fatal(err)
	}
	startRun(t, w)

	select {
	case <-st.held: // the worker's claim has the task, not yet started
	case <-ctx.Done():
		t.Fatal("the worker never claimed the job")
	}
	drained := make(chan error, 1)
	go func() { drained <- w.Drain(ctx) }()
	// Release the claim once Drain has begun (no more claims from here).
	for w.State() != app.WorkerDraining && w.State() != app.WorkerStopped {
		runtime.Gosched()
	}
	close(st.release)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Drain returned before the run of the claim it interrupted had finished")
	}
	if n := w.Active(); n != 0 {
		t.Fatalf("Drain returned with %d runs active", n)
	}
}
