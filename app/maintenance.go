package app

import (
	"context"
	"sync"
	"time"

	"github.com/stenthq/stent/ports"
)

// maintenanceLoop runs the expiry sweep and retention cleanup. Several
// workers running them at once is safe: both are idempotent store writes.
func (w *Worker) maintenanceLoop(ctx context.Context) {
	var sweep, cleanup <-chan time.Time
	if w.opts.ExpirySweepInterval > 0 {
		t := time.NewTicker(w.opts.ExpirySweepInterval)
		defer t.Stop()
		sweep = t.C
	}
	if w.opts.CleanupInterval > 0 {
		t := time.NewTicker(w.opts.CleanupInterval)
		defer t.Stop()
		cleanup = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep:
			w.e.sweepOverdue(ctx)
		case <-cleanup:
			if _, err := w.e.Cleanup(ctx, w.e.now().Add(-w.opts.Retention), false); err != nil {
				w.e.log.WarnContext(ctx, "retention cleanup failed", "worker_id", w.id, "error", err)
			}
		}
	}
}

// sweepOverdue times out every live execution past its deadline.
func (e *Engine) sweepOverdue(ctx context.Context) {
	for {
		ids, err := e.store.ExpireOverdue(ctx, e.now(), 100)
		if err != nil {
			e.log.WarnContext(ctx, "expiry sweep failed", "error", err)
			return
		}
		for _, id := range ids {
			e.metrics.ExecutionTimedOut(id)
			e.publish(ctx, cancelEvent(id), executionEvent(id, "timed_out"))
		}
		if len(ids) < 100 {
			return
		}
	}
}

// Cleanup deletes finished executions (with all their rows), dead letters,
// consumed signals and registry rows of stopped or dead workers older than
// before, and expired cache entries. With dryRun it only counts. Live
// executions and live workers are never touched.
func (e *Engine) Cleanup(ctx context.Context, before time.Time, dryRun bool) (ports.CleanupResult, error) {
	return e.store.Cleanup(ctx, ports.CleanupParams{
		ExecutionsBefore: before, DeadLettersBefore: before, SignalsBefore: before, WorkersBefore: before,
		Now: e.now(), DryRun: dryRun,
	})
}

// dueHint remembers the earliest known future due time (a delayed
// dispatch, a retry backoff) so idle workers wake for it instead of
// waiting a full poll interval.
type dueHint struct {
	mu   sync.Mutex
	next time.Time
}

func (e *Engine) noteDue(t time.Time) {
	e.due.mu.Lock()
	earlier := e.due.next.IsZero() || t.Before(e.due.next)
	if earlier {
		e.due.next = t
	}
	e.due.mu.Unlock()
	if !earlier {
		return // the workers already wake up sooner
	}
	for _, w := range e.Workers() {
		w.poke()
	}
}

// nextDueIn returns how long until the earliest known due time, clearing
// it once passed.
func (e *Engine) nextDueIn() (time.Duration, bool) {
	e.due.mu.Lock()
	defer e.due.mu.Unlock()
	if e.due.next.IsZero() {
		return 0, false
	}
	d := e.due.next.Sub(e.clock.Now())
	if d <= 0 {
		e.due.next = time.Time{}
		return 0, true
	}
	return d, true
}
