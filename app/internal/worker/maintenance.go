package worker

import (
	"context"
	"time"
)

// maintenanceLoop runs the expiry sweep and retention cleanup on the
// pacing clock. Several workers running them at once is safe: both are
// idempotent store writes.
func (w *Worker) maintenanceLoop(ctx context.Context) {
	var sweep, cleanup <-chan time.Time
	if w.opts.ExpirySweepInterval > 0 {
		t := w.pace.NewTicker(w.opts.ExpirySweepInterval)
		defer t.Stop()
		sweep = t.C()
	}
	if w.opts.CleanupInterval > 0 {
		t := w.pace.NewTicker(w.opts.CleanupInterval)
		defer t.Stop()
		cleanup = t.C()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep:
			w.env.SweepOverdue(ctx)
		case <-cleanup:
			if err := w.env.Cleanup(ctx, w.env.Run.Now().Add(-w.opts.Retention)); err != nil {
				w.env.Run.Log.WarnContext(ctx, "retention cleanup failed", "worker_id", w.opts.ID, "error", err)
			}
		}
	}
}
