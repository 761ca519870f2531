package run

import (
	"context"
	"encoding/json"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Patch markers (app.Patched, app.Deprecate). A marker is a step record
// like an inline call's, written once and already completed, named
// domain.PatchStepName(change id), at the next call number. What the run's
// history holds at that call number decides:
//
//	history at the next call number   Patched            Deprecate
//	nothing (a new run, or a run         records it, true   nothing, consumes nothing
//	  reaching this point first)
//	this change's marker                 consumes it, true  consumes it
//	any other record (the old code's     false; consumes    nothing, consumes nothing
//	  next call, another marker)           nothing
//
// A call number not consumed is the next call's: the old path finds its
// recorded steps where they were.

// markerResult is the stored result of a marker.
var markerResult = json.RawMessage("true")

// Patched reports whether the run takes the new path of change changeID
// (see the table above). The error is the marker write's (the run lost
// its lease, was cancelled or timed out); the path is then the new one.
func (r *Run) Patched(ctx context.Context, changeID string) (bool, error) {
	name := domain.PatchStepName(changeID)
	pos, ok, err := r.reserveIf(ctx, func(rec domain.Task, recorded bool) bool {
		return !recorded || rec.StepName == name
	})
	if err != nil {
		return true, err
	}
	if !ok {
		return false, nil
	}
	_, err = r.EnsureSteps(ctx, []ports.StepSpec{r.marker(pos, name)})
	return true, err
}

// Deprecate consumes the marker of changeID when the history holds it at
// the next call number, and does nothing otherwise (see the table above).
func (r *Run) Deprecate(ctx context.Context, changeID string) error {
	name := domain.PatchStepName(changeID)
	pos, ok, err := r.reserveIf(ctx, func(rec domain.Task, recorded bool) bool {
		return recorded && rec.StepName == name
	})
	if err != nil || !ok {
		return err
	}
	// The recorded marker is served from the loaded history (replayed),
	// which also drops the operations its creation committed.
	_, err = r.EnsureSteps(ctx, []ports.StepSpec{r.marker(pos, name)})
	return err
}

// marker is the spec of a marker record at call number pos: an activity
// record inserted completed (never claimed, like an inline step's).
func (r *Run) marker(pos int, name string) ports.StepSpec {
	return ports.StepSpec{
		ID: domain.StepID(r.task.ExecutionID, r.task.ID, pos), Position: pos,
		Kind: domain.KindActivity, StepName: name, Input: json.RawMessage("null"),
		Completed: &ports.StepOutcome{Result: markerResult, StartedAt: r.env.Now()},
	}
}

// reserveIf takes the next call number when take accepts the record the
// run's history holds there (recorded is false when there is none), and
// leaves it for the next call otherwise.
func (r *Run) reserveIf(ctx context.Context, take func(rec domain.Task, recorded bool) bool) (int, bool, error) {
	children, err := r.loadChildren(ctx)
	if err != nil {
		return 0, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := r.seq + 1
	rec, recorded := children[pos]
	if !take(rec, recorded) {
		return pos, false, nil
	}
	r.seq = pos
	return pos, true, nil
}
