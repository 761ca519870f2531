package run

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/stenthq/stent/ports"
)

// Suspension. A run blocked on a sleep, a signal or children it awaits for
// longer than Env.ParkAfter parks: its task is stored as waiting with
// its wake condition (ports.ParkTask), its slot and lease are released,
// and its goroutine ends (runtime.Goexit, so user code after the wait
// never runs in this attempt and cannot swallow the exit; deferred calls
// do run). When the condition holds, any worker claims the task again and
// runs the function from the start: every completed step is served from
// its checkpoint, so the run continues where it parked.
//
// A run parks only from its own task goroutine (the goroutine that runs
// the body, inline steps included) and only while that wait is its one
// step call in flight: a wait issued from a goroutine the user started,
// or while other step calls of the run are in flight, stays in memory.

// parkAfter returns how long a blocked wait stays in memory before it
// parks (0 while the worker drains), and false when parking is off.
func (r *Run) parkAfter() (time.Duration, bool) {
	d := r.env.ParkAfter
	if d < 0 {
		return 0, false
	}
	if r.host.IsDraining() {
		return 0, true
	}
	return d, true
}

// mayPark reports whether this run (and every run it is inline in) can
// park now: each has its record (a wait always follows a step write, which
// writes them), one step call in flight in each, and it is called from the
// task goroutine.
func (r *Run) mayPark() bool {
	if _, ok := r.parkAfter(); !ok {
		return false
	}
	for x := r; x != nil; x = x.parent {
		if x.inflight.Load() > 1 || x.isVirtual() {
			return false
		}
	}
	return onTaskGoroutine()
}

// park parks the run until wakeAt or until every child in children has
// ended (see ports.ParkTask), then ends the goroutine: it does not return
// when the run parked. It returns (nil) when the condition already holds,
// and an error when the park could not be written (the run goes on in
// memory, or ends with the cause of a lost lease). Call it only when
// mayPark.
func (r *Run) park(ctx context.Context, wakeAt *time.Time, children []string) error {
	if d := r.task.Deadline; d != nil && (wakeAt == nil || d.Before(*wakeAt)) {
		// Wake at the deadline to time the execution out.
		wakeAt = d
	}
	parked, err := r.writePark(ctx, wakeAt, children)
	if err != nil || !parked {
		return err
	}
	// An inline step parks its callers too: each waits for the record of
	// the run it called.
	for child, p := r, r.parent; p != nil; child, p = p, p.parent {
		if _, err := p.writePark(ctx, p.task.Deadline, []string{child.task.ID}); err != nil {
			// The caller's lease lapses and it is recovered by replay; the
			// parked step is safe either way.
			p.Logger().WarnContext(ctx, "parking the caller of a parked inline step failed", "error", err)
			break
		}
	}
	for x := r; x != nil; x = x.parent {
		x.cancel(errParked)
	}
	if wakeAt != nil {
		r.env.NoteDue(*wakeAt)
	}
	runtime.Goexit()
	return nil // unreachable
}

// writePark writes the park of this run, retrying transient errors until
// the lease ends. The buffered data operations are dropped: the replay
// that resumes the run buffers them again.
func (r *Run) writePark(ctx context.Context, wakeAt *time.Time, children []string) (bool, error) {
	env := r.env
	var parked bool
	err := r.retryWrite(ctx, func(now time.Time) error {
		var err error
		parked, err = env.Store.ParkTask(context.WithoutCancel(ctx), ports.ParkParams{
			Fence: r.Fence(), WakeAt: wakeAt, Children: children, Now: now})
		return err
	})
	if err != nil {
		return false, r.writeErr(ctx, err)
	}
	if parked {
		r.takeOps()
		if env.Log.Enabled(ctx, slog.LevelDebug) {
			r.Logger().DebugContext(ctx, "task parked", "wake_at", wakeAt, "children", len(children))
		}
	}
	return parked, nil
}
