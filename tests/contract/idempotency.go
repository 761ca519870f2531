package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// keyedCall creates, in a new running execution started at now, call 1 to
// fn with the idempotency key.
func (f *fixture) keyedCall(fn, key string, now time.Time, o execOpts) domain.Task {
	f.t.Helper()
	o.CreatedAt = now
	_, root := f.start(o)
	s := activitySpec(root, 1, fn)
	s.IdempotencyKey = key
	return f.steps(root, now, s)[0]
}

func (f *fixture) wantLink(task domain.Task, owner string) {
	f.t.Helper()
	got := f.task(task.ID)
	f.eq("link kind", got.Kind, domain.KindLink)
	f.eq("link state", got.State, domain.TaskPending)
	f.eq("link owner", got.LinkOwnerID, owner)
	f.eq("link key", got.IdempotencyKey, "")
}

func testIdempotency(t *testing.T, h storeSuite) {
	for _, v := range falsey {
		h.run(t, "a recorded "+v+" is a hit", func(t *testing.T, f *fixture) {
			first := f.keyedCall("once", "key", at(time.Second), execOpts{})
			f.eq("first call state", first.State, domain.TaskPending)
			f.eq("first call holds the key", first.IdempotencyKey, "key")
			f.complete(f.claimID(at(time.Second), first.ID), v, at(2*time.Second))

			got, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"key", "missing"})
			f.noErr(err, "GetIdempotencyRecords")
			f.eq("records", len(got), 1)
			f.eqRaw("recorded value", got["key"], js(v))
			f.eq("the holder keeps its key", f.task(first.ID).IdempotencyKey, "key")

			second := f.keyedCall("once", "key", at(time.Minute), execOpts{})
			f.eq("second call state", second.State, domain.TaskCompleted)
			f.eq("second call kind", second.Kind, domain.KindActivity)
			f.eqRaw("second call result", second.Result, js(v))
			f.eq("second call key", second.IdempotencyKey, "")
			f.eq("claimable", len(f.claimFns(at(time.Hour), "once")), 0)
		})
	}

	h.run(t, "a key held by a live task makes the next call a link", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		link := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
		f.wantLink(link, holder.ID)
		f.eq("holder key", f.task(holder.ID).IdempotencyKey, "key")
		running := f.claimID(at(3*time.Second), holder.ID)
		third := f.keyedCall("once", "key", at(4*time.Second), execOpts{})
		f.wantLink(third, running.ID)
	})

	h.run(t, "a key held by an earlier spec of the same call makes a link", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		a, b := activitySpec(root, 1, "once"), activitySpec(root, 2, "once")
		a.IdempotencyKey, b.IdempotencyKey = "key", "key"
		got := f.steps(root, at(time.Second), a, b)
		f.eq("first holds the key", got[0].IdempotencyKey, "key")
		f.wantLink(got[1], got[0].ID)
	})

	h.run(t, "completing the holder writes the record and completes its links", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		l1 := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
		l2 := f.keyedCall("once", "key", at(3*time.Second), execOpts{})
		now := at(time.Minute)
		f.complete(f.claimID(at(4*time.Second), holder.ID), `{"id": 7}`, now)
		for _, l := range []domain.Task{l1, l2} {
			got := f.task(l.ID)
			f.eq("link state", got.State, domain.TaskCompleted)
			f.eqRaw("link result", got.Result, js(`{"id": 7}`))
			f.eqTimePtr("link finished_at", got.FinishedAt, &now)
		}
		recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"key"})
		f.noErr(err, "GetIdempotencyRecords")
		f.eqRaw("record", recs["key"], js(`{"id": 7}`))
		later := f.keyedCall("once", "key", at(time.Hour), execOpts{})
		f.eq("a later call", later.State, domain.TaskCompleted)
	})

	h.run(t, "failing the holder fails its links and releases the key", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		link := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
		now := at(time.Minute)
		f.fail(f.claimID(at(3*time.Second), holder.ID), "declined", now)
		got := f.task(link.ID)
		f.eq("link state", got.State, domain.TaskFailed)
		f.eq("link error code", got.Error != nil && got.Error.Code == "declined", true)
		f.eqTimePtr("link finished_at", got.FinishedAt, &now)
		f.eq("dead letters (the holder only)", f.countDeadLetters(), int64(1))
		_, err := f.s.GetDeadLetter(f.ctx, link.ID)
		f.isErr(err, domain.ErrNotFound, "the link's dead letter")
		f.eq("holder key after failure", f.task(holder.ID).IdempotencyKey, "")
		recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"key"})
		f.noErr(err, "GetIdempotencyRecords")
		f.eq("records", len(recs), 0)
		fresh := f.keyedCall("once", "key", at(time.Hour), execOpts{})
		f.eq("a later call kind", fresh.Kind, domain.KindActivity)
		f.eq("a later call state", fresh.State, domain.TaskPending)
		f.eq("a later call holds the key", fresh.IdempotencyKey, "key")
	})

	ends := []struct {
		name string
		end  func(f *fixture, e domain.Execution, root domain.Task, now time.Time)
	}{
		{"cancelled", func(f *fixture, e domain.Execution, _ domain.Task, now time.Time) {
			_, _, err := f.s.CancelExecution(f.ctx, e.ID, now)
			f.noErr(err, "CancelExecution")
		}},
		{"timed out", func(f *fixture, e domain.Execution, _ domain.Task, now time.Time) {
			_, changed, err := f.s.TimeoutExecution(f.ctx, e.ID, now)
			f.noErr(err, "TimeoutExecution")
			f.eq("timed out", changed, true)
		}},
		{"completed by its root", func(f *fixture, _ domain.Execution, root domain.Task, now time.Time) {
			f.complete(root, `"root done"`, now)
		}},
		{"failed by its root", func(f *fixture, _ domain.Execution, root domain.Task, now time.Time) {
			f.fail(root, "root failed", now)
		}},
	}
	for _, end := range ends {
		h.run(t, "a holder whose execution is "+end.name+" hands the key to the oldest live link", func(t *testing.T, f *fixture) {
			deadline := at(10 * time.Second)
			e, root := f.start(execOpts{Deadline: &deadline})
			a, b := activitySpec(root, 1, "once"), activitySpec(root, 2, "once")
			a.IdempotencyKey, b.IdempotencyKey = "key", "key"
			recs := f.steps(root, at(time.Second), a, b)
			holder := f.claimID(at(time.Second), recs[0].ID)
			sameExecLink := recs[1]
			heir := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
			follower := f.keyedCall("once", "key", at(3*time.Second), execOpts{})

			now := deadline
			end.end(f, e, root, now)
			old := f.task(holder.ID)
			f.eq("old holder state", old.State, domain.TaskCancelled)
			f.eq("old holder key", old.IdempotencyKey, "")
			f.state(sameExecLink.ID, domain.TaskCancelled)

			got := f.task(heir.ID)
			f.eq("heir kind", got.Kind, domain.KindActivity)
			f.eq("heir state", got.State, domain.TaskPending)
			f.eq("heir key", got.IdempotencyKey, "key")
			f.eq("heir owner", got.LinkOwnerID, "")
			f.eq("heir attempt", got.Attempt, 0)
			f.eq("heir due", got.Due(now), true)
			f.wantLink(follower, heir.ID)

			run := f.claimFns(now, "once")
			f.eq("claimed", taskIDs(run), []string{heir.ID})
			if len(run) == 1 {
				f.complete(run[0], `"shared"`, now.Add(time.Second))
				f.eqRaw("follower result", f.task(follower.ID).Result, js(`"shared"`))
				recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"key"})
				f.noErr(err, "GetIdempotencyRecords")
				f.eqRaw("record", recs["key"], js(`"shared"`))
			}
		})
	}

	h.run(t, "a holder cancelled without live links releases the key", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		_, _, err := f.s.CancelExecution(f.ctx, holder.ExecutionID, at(time.Minute))
		f.noErr(err, "CancelExecution")
		f.eq("old holder key", f.task(holder.ID).IdempotencyKey, "")
		fresh := f.keyedCall("once", "key", at(time.Hour), execOpts{})
		f.eq("a later call kind", fresh.Kind, domain.KindActivity)
		f.eq("a later call holds the key", fresh.IdempotencyKey, "key")
		recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"key"})
		f.noErr(err, "GetIdempotencyRecords")
		f.eq("records", len(recs), 0)
	})

	h.run(t, "a re-attached call keeps its link", func(t *testing.T, f *fixture) {
		holder := f.keyedCall("once", "key", at(time.Second), execOpts{})
		link := f.keyedCall("once", "key", at(2*time.Second), execOpts{})
		parent := f.task(link.ParentTaskID)
		s := activitySpec(parent, 1, "once")
		s.IdempotencyKey = "key"
		got, err := ports.CreateSteps(f.ctx, f.s, parent.Fence(), []ports.StepSpec{s}, nil, at(3*time.Second))
		f.noErr(err, "CreateSteps")
		f.eq("re-attached", mustJSON(got[0]), mustJSON(f.task(link.ID)))
		f.wantLink(link, holder.ID)
	})
}
