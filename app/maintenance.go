package app

import (
	"context"
	"time"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/ports"
)

// sweepOverdue times out every live execution past its deadline (run by
// the workers' maintenance loop).
func (e *Engine) sweepOverdue(ctx context.Context) {
	for {
		ids, err := e.store.ExpireOverdue(ctx, e.now(), 100)
		if err != nil {
			e.log.WarnContext(ctx, "expiry sweep failed", "error", err)
			return
		}
		for _, id := range ids {
			e.metrics.ExecutionTimedOut(id)
			e.hints.Publish(ctx, hint.Cancel(id), hint.Execution(id, "timed_out"))
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
