package app

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Sleep pauses for d. Inside a running task it is a durable step: the first
// run stores the wake-up time, a re-run after a crash waits only for the
// remainder, and the task gives its worker slot back while it sleeps. A
// d <= 0 writes nothing and returns at once. Outside a task it is a plain
// sleep that ends early with ctx's error. time.Sleep is never intercepted.
func Sleep(ctx context.Context, d time.Duration) error {
	tr := runFrom(ctx)
	if tr == nil {
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if d <= 0 {
		return nil
	}
	pos := tr.reserve(1)
	wake := tr.e.now().Add(d)
	spec := ports.StepSpec{
		ID: domain.StepID(tr.task.ExecutionID, tr.task.ID, pos), Position: pos,
		Kind: domain.KindSleep, StepName: domain.SleepStepName, ScheduledFor: &wake,
	}
	recs, err := tr.ensureSteps(ctx, []ports.StepSpec{spec})
	if err != nil {
		return err
	}
	rec := recs[0]
	if rec.State != domain.TaskPending {
		_, err := recordOutcome(rec)
		return err
	}
	released := false
	for {
		if rec.ScheduledFor != nil {
			if wait := rec.ScheduledFor.Sub(tr.e.clock.Now()); wait > 0 {
				if !released {
					released = true
					tr.w.releaseSlot(tr)
				}
				t := tr.e.clock.NewTimer(wait)
				select {
				case <-t.C():
				case <-ctx.Done():
					t.Stop()
					return tr.ctxErr(ctx, ctx.Err())
				}
			}
		}
		rec, err = tr.e.store.CompleteSleep(ctx, tr.fence(), rec.ID, tr.e.now())
		if err != nil {
			return tr.writeErr(ctx, err)
		}
		if rec.State != domain.TaskPending {
			if released {
				if err := tr.w.acquireSlot(ctx, tr); err != nil {
					return tr.ctxErr(ctx, err)
				}
			}
			_, err := recordOutcome(rec)
			return err
		}
	}
}
