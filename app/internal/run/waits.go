package run

import (
	"context"
	"fmt"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Sleep is a durable sleep of d > 0: the first run stores the wake-up time
// as a step, a re-run waits only for the remainder, and the run gives its
// slot back while it sleeps (and parks if the sleep is longer than
// ParkAfter).
func (r *Run) Sleep(ctx context.Context, d time.Duration) error {
	env := r.env
	pos := r.Reserve(1)
	wake := env.Now().Add(d)
	spec := ports.StepSpec{
		ID: domain.StepID(r.task.ExecutionID, r.task.ID, pos), Position: pos,
		Kind: domain.KindSleep, StepName: domain.SleepStepName, ScheduledFor: &wake,
	}
	recs, err := r.EnsureSteps(ctx, []ports.StepSpec{spec})
	if err != nil {
		return err
	}
	rec := recs[0]
	if rec.State != domain.TaskPending {
		_, err := Outcome(rec)
		return err
	}
	released := false
	for {
		if rec.ScheduledFor != nil {
			if left := rec.ScheduledFor.Sub(env.Clock.Now()); left > 0 {
				if !released {
					released = true
					r.releaseSlot()
				}
				// A sleep longer than ParkAfter parks: the goroutine ends
				// here and a worker resumes the run at the wake-up time.
				if after, ok := r.parkAfter(); ok && left > after && r.mayPark() {
					if err := r.park(ctx, rec.ScheduledFor, nil); err != nil {
						return err
					}
				}
				if err := r.sleepInMemory(ctx, left, rec.ScheduledFor); err != nil {
					return err
				}
			}
		}
		rec, err = r.completeSleep(ctx, rec.ID)
		if err != nil {
			return err
		}
		if rec.State != domain.TaskPending {
			if released {
				if err := r.acquireSlot(ctx); err != nil {
					return CtxErr(ctx, err)
				}
			}
			_, err := Outcome(rec)
			return err
		}
	}
}

// sleepInMemory waits for a short sleep on the engine clock. When the
// worker starts draining meanwhile, the run parks instead (if it can).
func (r *Run) sleepInMemory(ctx context.Context, left time.Duration, wakeAt *time.Time) error {
	t := r.env.Clock.NewTimer(left)
	defer t.Stop()
	drain := r.host.Draining()
	for {
		select {
		case <-t.C():
			return nil
		case <-ctx.Done():
			return CtxErr(ctx, ctx.Err())
		case <-drain:
			drain = nil
			if r.mayPark() {
				if err := r.park(ctx, wakeAt, nil); err != nil {
					return err
				}
			}
		}
	}
}

// completeSleep completes the due sleep record, retrying store blips
// until the lease ends.
func (r *Run) completeSleep(ctx context.Context, id string) (domain.Task, error) {
	var rec domain.Task
	err := r.retryWrite(ctx, func(now time.Time) error {
		var err error
		rec, err = r.env.Store.CompleteSleep(ctx, r.Fence(), id, now)
		return err
	})
	if err != nil {
		return rec, r.writeErr(ctx, err)
	}
	return rec, nil
}

// WaitSignal waits for the next signal called name sent to the run's
// execution and returns its payload (a step: a re-run gets the same
// payload again). A timeout > 0 bounds the wait: the deadline (now +
// timeout on the first run) is stored as the step's ScheduledFor, so it
// holds across re-runs and parks; once it passes, the step is ended
// without a message (CompleteSleep of a signal wait: a signal delivered
// first wins) and the wait returns ErrSignalTimeout, on this run and every
// re-run.
func (r *Run) WaitSignal(ctx context.Context, name string, timeout time.Duration) ([]byte, error) {
	pos := r.Reserve(1)
	spec := ports.StepSpec{
		ID: domain.StepID(r.task.ExecutionID, r.task.ID, pos), Position: pos,
		Kind: domain.KindSignal, StepName: domain.SignalStepName(name),
	}
	if timeout > 0 {
		at := r.env.Now().Add(timeout)
		spec.ScheduledFor = &at
	}
	recs, err := r.EnsureSteps(ctx, []ports.StepSpec{spec})
	if err != nil {
		return nil, err
	}
	rec := recs[0]
	deadline := rec.ScheduledFor // as stored by the first run
	if deadline == nil {
		recs, err = r.Await(ctx, recs)
		if err != nil {
			return nil, err
		}
		return Outcome(recs[0])
	}
	for rec.State.Live() {
		recs, err := r.awaitUntil(ctx, []domain.Task{rec}, deadline)
		if err != nil {
			return nil, err
		}
		if rec = recs[0]; !rec.State.Live() {
			break
		}
		if rec, err = r.completeSleep(ctx, rec.ID); err != nil {
			return nil, err
		}
		if rec.State.Live() {
			// The store's clock is a little behind: try again shortly.
			t := r.env.Clock.NewTimer(time.Millisecond)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return nil, CtxErr(ctx, ctx.Err())
			}
		}
	}
	if rec.State == domain.TaskCompleted && len(rec.Result) == 0 {
		// Permanent: a retry of a body that returns it gets it again.
		return nil, domain.Permanent(domain.SentinelError(domain.ErrSignalTimeout,
			fmt.Sprintf("stent: no signal %q arrived by %s (WithSignalTimeout)", name, deadline.UTC().Format(time.RFC3339Nano))))
	}
	return Outcome(rec)
}
