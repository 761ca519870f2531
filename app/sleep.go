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
	defer tr.enter()()
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
				// A sleep longer than ParkAfter parks: the goroutine ends
				// here and a worker resumes the run at the wake-up time.
				if after, ok := tr.parkAfter(); ok && wait > after && tr.mayPark() {
					if err := tr.park(ctx, rec.ScheduledFor, nil); err != nil {
						return err
					}
				}
				if err := tr.sleepInMemory(ctx, wait, rec.ScheduledFor); err != nil {
					return err
				}
			}
		}
		rec, err = tr.completeSleep(ctx, rec.ID)
		if err != nil {
			return err
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

// sleepInMemory waits for a short sleep on the engine clock. When the
// worker starts draining meanwhile, the run parks instead (if it can).
func (tr *taskRun) sleepInMemory(ctx context.Context, wait time.Duration, wakeAt *time.Time) error {
	t := tr.e.clock.NewTimer(wait)
	defer t.Stop()
	drain := tr.w.draining
	for {
		select {
		case <-t.C():
			return nil
		case <-ctx.Done():
			return tr.ctxErr(ctx, ctx.Err())
		case <-drain:
			drain = nil
			if tr.mayPark() {
				if err := tr.park(ctx, wakeAt, nil); err != nil {
					return err
				}
			}
		}
	}
}

// completeSleep completes the due sleep record, retrying store blips
// until the lease ends.
func (tr *taskRun) completeSleep(ctx context.Context, id string) (domain.Task, error) {
	var rec domain.Task
	err := tr.w.retryWrite(ctx, tr, func(now time.Time) error {
		var err error
		rec, err = tr.e.store.CompleteSleep(ctx, tr.fence(), id, now)
		return err
	})
	if err != nil {
		return rec, tr.writeErr(ctx, err)
	}
	return rec, nil
}
