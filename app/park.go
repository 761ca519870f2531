package app

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"runtime"
	"time"

	"github.com/stenthq/stent/ports"
)

// Suspension. A run blocked on a sleep, a signal or children it awaits for
// longer than Config.ParkAfter parks: its task is stored as waiting with
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

// errParked is the cause a parked run's context is cancelled with: any
// goroutine of the run still going sees its steps fail, and the run's end
// writes nothing.
var errParked = errors.New("stent: the run parked; it resumes by replay")

// parkAfter returns how long a blocked wait stays in memory before it
// parks (0 while the worker drains), and false when parking is off.
func (tr *taskRun) parkAfter() (time.Duration, bool) {
	d := tr.e.cfg.ParkAfter
	if d < 0 {
		return 0, false
	}
	if tr.w.State() == WorkerDraining {
		return 0, true
	}
	return d, true
}

// mayPark reports whether this run (and every run it is inline in) can
// park now: one step call in flight in each, and called from the task
// goroutine.
func (tr *taskRun) mayPark() bool {
	if _, ok := tr.parkAfter(); !ok {
		return false
	}
	for r := tr; r != nil; r = r.parent {
		if r.inflight.Load() > 1 {
			return false
		}
	}
	return onTaskGoroutine()
}

// park parks the run until wakeAt or until every child in children has
// ended (see ports.ParkTask), then ends the goroutine: it does not return
// when the run parked. It returns (nil) when the condition already holds,
// and an error when the park could not be written (the run goes on in
// memory, or ends with the cause of a lost lease).
func (tr *taskRun) park(ctx context.Context, wakeAt *time.Time, children []string) error {
	if d := tr.task.Deadline; d != nil && (wakeAt == nil || d.Before(*wakeAt)) {
		// Wake at the deadline to time the execution out.
		wakeAt = d
	}
	if err := tr.materialize(ctx); err != nil {
		return err
	}
	parked, err := tr.writePark(ctx, wakeAt, children)
	if err != nil || !parked {
		return err
	}
	// An inline step parks its callers too: each waits for the record of
	// the run it called.
	for child, p := tr, tr.parent; p != nil; child, p = p, p.parent {
		if _, err := p.writePark(ctx, p.task.Deadline, []string{child.task.ID}); err != nil {
			// The caller's lease lapses and it is recovered by replay; the
			// parked step is safe either way.
			p.logger().WarnContext(ctx, "parking the caller of a parked inline step failed", "error", err)
			break
		}
	}
	for r := tr; r != nil; r = r.parent {
		r.cancel(errParked)
	}
	if wakeAt != nil {
		tr.e.noteDue(*wakeAt)
	}
	runtime.Goexit()
	return nil // unreachable
}

// writePark writes the park of this run, retrying transient errors until
// the lease ends. The buffered data operations are dropped: the replay
// that resumes the run buffers them again.
func (tr *taskRun) writePark(ctx context.Context, wakeAt *time.Time, children []string) (bool, error) {
	e := tr.e
	var parked bool
	err := tr.w.retryWrite(ctx, tr, func(now time.Time) error {
		var err error
		parked, err = e.store.ParkTask(context.WithoutCancel(ctx), ports.ParkParams{
			Fence: tr.fence(), WakeAt: wakeAt, Children: children, Now: now})
		return err
	})
	if err != nil {
		return false, tr.writeErr(ctx, err)
	}
	if parked {
		tr.takeOps()
		if e.log.Enabled(ctx, slog.LevelDebug) {
			tr.logger().DebugContext(ctx, "task parked", "wake_at", wakeAt, "children", len(children))
		}
	}
	return parked, nil
}

// runBody runs a claimed task's function. It marks the task goroutine on
// the stack (see onTaskGoroutine); keep it out of line.
//
//go:noinline
func runBody(ctx context.Context, def *funcDef, input []byte) ([]byte, error) {
	return invokeSafely(ctx, def, input)
}

// runBodyName is runBody's symbol, looked up once.
var runBodyName = runtime.FuncForPC(reflect.ValueOf(runBody).Pointer()).Name()

// onTaskGoroutine reports whether the calling goroutine runs a task body
// (runBody is on its stack), as opposed to a goroutine user code started.
func onTaskGoroutine() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(1, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == runBodyName {
			return true
		}
		if !more {
			return false
		}
	}
}
