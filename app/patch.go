package app

import (
	"context"

	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
)

// Patched reports whether the running task takes the new path of the code
// change changeID, so a workflow can change while runs recorded under the
// old code still replay:
//
//	if app.Patched(ctx, "send-receipt") {
//		if _, err := sendReceipt.Call(ctx, order); err != nil { ... }
//	}
//	_, err := ship.Call(ctx, order)
//
// A patch marker is a step: it takes a call number like a durable call and
// is recorded as a completed step named "stent.patch/<changeID>". What the
// run's recorded history holds at that call number decides:
//
//   - nothing (a new run, or a run that reaches this point for the first
//     time): the marker is recorded and Patched reports true;
//   - this change's marker (a run that took the new path before): true;
//   - any other step (the old code's next call, recorded before the
//     change): false. The call number is not consumed, so the old path's
//     next call replays from it.
//
// Outside a task (local mode) it reports true. A change id is a valid name
// (non-empty, printable, at most 200 bytes); an invalid one panics, as it
// is a mistake in the code. Use a new id for every change.
//
// If the marker cannot be recorded (the task lost its lease, was
// cancelled or timed out), the task's context ends with that cause, so
// the next step fails with it; Patched then reports true.
//
// Once no run recorded before the change can replay any more, replace the
// check with Deprecate and keep only the new path; later, remove that too.
func Patched(ctx context.Context, changeID string) bool {
	mustChangeID(changeID)
	r := run.From(ctx)
	if r == nil {
		return true
	}
	defer r.Enter()()
	ok, err := r.Patched(ctx, changeID)
	if err != nil {
		r.Cancel(err)
	}
	return ok
}

// Deprecate marks the place where Patched(ctx, changeID) used to be, once
// every run recorded before the change is gone, and the code keeps only
// the new path. It records nothing. When the run's history holds this
// change's marker at the next call number (a run that went through
// Patched), Deprecate consumes that call number, so the steps after it
// replay where they were recorded; otherwise (a new run, or any other
// recorded step there) it consumes nothing. A run recorded before the
// change (without the marker) that replays through Deprecate meets the
// new path's first call where its old step is: a NonDeterminismError.
// Remove Deprecate once the runs that recorded the marker are gone too.
//
// Outside a task it does nothing. An invalid change id panics, as for
// Patched. If reading the history fails, the task's context ends with the
// cause, as for Patched.
func Deprecate(ctx context.Context, changeID string) {
	mustChangeID(changeID)
	r := run.From(ctx)
	if r == nil {
		return
	}
	defer r.Enter()()
	if err := r.Deprecate(ctx, changeID); err != nil {
		r.Cancel(err)
	}
}

// mustChangeID panics on an invalid change id.
func mustChangeID(id string) {
	if err := domain.ValidateName("change id", id); err != nil {
		panic(err)
	}
}
