package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// retention is a store with old and new rows of every kind Cleanup
// touches. Cleaning up before epoch+5h must remove exactly: execution old
// (4 tasks, 2 signals, 1 dead letter, its data), the live execution's
// consumed signal and old dead letter, and the cache entry expiring at
// epoch+5h.
type retention struct {
	old, recent, live  domain.Execution
	oldTasks           []string
	liveFailed         string
	cutoff             time.Time
	oldKey             string
	expired, unexpired string
	forever            string
}

func (f *fixture) newRetention() retention {
	f.t.Helper()
	r := retention{cutoff: at(5 * time.Hour), oldKey: "k-old", expired: "c-expired", unexpired: "c-later", forever: "c-forever"}

	old, oroot := f.start(execOpts{})
	keyed := activitySpec(oroot, 1, "o-keyed")
	keyed.IdempotencyKey = r.oldKey
	recs, err := ports.CreateSteps(f.ctx, f.s, oroot.Fence(), []ports.StepSpec{keyed, activitySpec(oroot, 2, "o-fail"), signalSpec(oroot, 3, "s")},
		[]domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}, at(time.Second))
	f.noErr(err, "CreateSteps")
	f.send(old.ID, "s", `1`, at(2*time.Second))
	f.send(old.ID, "s", `2`, at(3*time.Second))
	f.complete(f.claimID(at(time.Second), recs[0].ID), `"kept"`, at(4*time.Second))
	f.fail(f.claimID(at(time.Second), recs[1].ID), "boom", at(5*time.Second))
	f.complete(oroot, `"old"`, at(time.Hour))
	r.old = f.exec(old.ID)
	r.oldTasks = []string{oroot.ID, recs[0].ID, recs[1].ID, recs[2].ID}

	recent, rroot := f.start(execOpts{})
	f.complete(rroot, `"recent"`, at(10*time.Hour))
	r.recent = f.exec(recent.ID)

	live, lroot := f.start(execOpts{})
	f.send(live.ID, "s", `"consumed"`, at(time.Second))
	f.steps(lroot, at(2*time.Second), signalSpec(lroot, 1, "s"))
	f.send(live.ID, "t", `"waiting"`, at(2*time.Second))
	failed := f.runChild(lroot, 2, "l-fail", at(2*time.Second))
	f.fail(failed, "boom", at(3*time.Second))
	r.liveFailed = failed.ID
	for i, c := range []struct {
		key     string
		expires *time.Time
	}{{r.expired, &r.cutoff}, {r.unexpired, ptrTo(at(100 * time.Hour))}, {r.forever, nil}} {
		s := activitySpec(lroot, 3+i, "cache-"+c.key)
		s.CacheKey = c.key
		task := f.claimID(at(time.Second), f.steps(lroot, at(time.Second), s)[0].ID)
		f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: task.Fence(), Result: js(`"` + c.key + `"`), CacheExpiresAt: c.expires, Now: at(time.Second)}), "CompleteTask")
	}
	r.live = f.exec(live.ID)
	return r
}

func (r retention) params(dry bool) ports.CleanupParams {
	return ports.CleanupParams{ExecutionsBefore: r.cutoff, DeadLettersBefore: r.cutoff, SignalsBefore: r.cutoff, Now: r.cutoff, DryRun: dry}
}

var retentionResult = ports.CleanupResult{Executions: 1, Tasks: 4, DeadLetters: 2, CacheEntries: 1, Signals: 3}

// cacheKeys returns the cache keys still stored (read at epoch, before any
// entry expires).
func (f *fixture) cacheKeys(r retention) []string {
	f.t.Helper()
	got, err := f.insp.GetCacheEntries(f.ctx, []string{r.expired, r.unexpired, r.forever}, epoch)
	f.noErr(err, "GetCacheEntries")
	var keys []string
	for _, k := range []string{r.expired, r.unexpired, r.forever} {
		if _, ok := got[k]; ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func testCleanup(t *testing.T, h storeSuite) {
	h.run(t, "cleanup removes old terminal executions with all their rows and old dead letters, signals and cache entries", func(t *testing.T, f *fixture) {
		r := f.newRetention()
		before := f.views(r.recent.ID)
		res, err := f.s.Cleanup(f.ctx, r.params(false))
		f.noErr(err, "Cleanup")
		f.eq("removed", res, retentionResult)

		_, err = f.s.GetExecution(f.ctx, r.old.ID)
		f.isErr(err, domain.ErrNotFound, "the old execution")
		for _, id := range r.oldTasks {
			_, err = f.s.GetTask(f.ctx, id)
			f.isErr(err, domain.ErrNotFound, "a task of the old execution")
		}
		_, err = f.s.GetExecutionData(f.ctx, r.old.ID)
		f.isErr(err, domain.ErrNotFound, "the old execution's data")
		f.eq("old signals", len(f.signals(r.old.ID)), 0)
		dls, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{})
		f.noErr(err, "ListDeadLetters")
		f.eq("dead letters left", len(dls), 0)

		f.eq("the recent execution's rows", f.views(r.recent.ID), before)
		f.eq("live execution", f.exec(r.live.ID).State, domain.ExecutionRunning)
		f.eq("live tasks", len(f.tasksOf(r.live.ID)), 6)
		f.state(r.liveFailed, domain.TaskFailed)
		sigs := f.signals(r.live.ID)
		if len(sigs) != 1 || sigs[0].Name != "t" || sigs[0].ConsumedBy != "" {
			t.Errorf("live signals after cleanup = %+v; want only the unconsumed t", sigs)
		}
		f.eq("cache entries left", f.cacheKeys(r), []string{r.unexpired, r.forever})
		recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{r.oldKey})
		f.noErr(err, "GetIdempotencyRecords")
		f.eqRaw("idempotency record kept", recs[r.oldKey], js(`"kept"`))

		res, err = f.s.Cleanup(f.ctx, r.params(false))
		f.noErr(err, "second Cleanup")
		f.eq("removed by a second run", res, ports.CleanupResult{})
	})

	h.run(t, "a dry run counts what cleanup would remove and deletes nothing", func(t *testing.T, f *fixture) {
		r := f.newRetention()
		before := f.snapshot(r.old.ID, r.recent.ID, r.live.ID)
		res, err := f.s.Cleanup(f.ctx, r.params(true))
		f.noErr(err, "Cleanup dry run")
		f.eq("would remove", res, retentionResult)
		f.unchanged(before, "a dry run", r.old.ID, r.recent.ID, r.live.ID)
		f.eq("cache entries", len(f.cacheKeys(r)), 3)
		res, err = f.s.Cleanup(f.ctx, r.params(false))
		f.noErr(err, "Cleanup")
		f.eq("removed", res, retentionResult)
	})

	h.run(t, "zero times skip every kind of row", func(t *testing.T, f *fixture) {
		r := f.newRetention()
		before := f.snapshot(r.old.ID, r.recent.ID, r.live.ID)
		res, err := f.s.Cleanup(f.ctx, ports.CleanupParams{})
		f.noErr(err, "Cleanup")
		f.eq("removed", res, ports.CleanupResult{})
		f.unchanged(before, "an empty cleanup", r.old.ID, r.recent.ID, r.live.ID)
		f.eq("cache entries", len(f.cacheKeys(r)), 3)
	})

	h.run(t, "every terminal state is cleaned up and live executions never are", func(t *testing.T, f *fixture) {
		cutoff := at(5 * time.Hour)
		var gone []string
		c, croot := f.start(execOpts{})
		f.complete(croot, `1`, at(time.Hour))
		fl, froot := f.start(execOpts{})
		f.fail(froot, "boom", at(time.Hour))
		x, _ := f.create(execOpts{})
		_, _, err := f.s.CancelExecution(f.ctx, x.ID, at(time.Hour))
		f.noErr(err, "CancelExecution")
		to, _ := f.create(execOpts{Deadline: ptrTo(at(time.Hour))})
		_, _, err = f.s.TimeoutExecution(f.ctx, to.ID, at(time.Hour))
		f.noErr(err, "TimeoutExecution")
		gone = append(gone, c.ID, fl.ID, x.ID, to.ID)
		edge, eroot := f.start(execOpts{})
		f.complete(eroot, `1`, cutoff) // finished at the cutoff: kept
		pending, _ := f.create(execOpts{})
		running, _ := f.start(execOpts{})

		res, err := f.s.Cleanup(f.ctx, ports.CleanupParams{ExecutionsBefore: cutoff})
		f.noErr(err, "Cleanup")
		f.eq("removed", res, ports.CleanupResult{Executions: 4, Tasks: 4, DeadLetters: 1})
		for _, id := range gone {
			_, err := f.s.GetExecution(f.ctx, id)
			f.isErr(err, domain.ErrNotFound, "a cleaned-up execution")
		}
		f.execState(edge.ID, domain.ExecutionCompleted)
		f.execState(pending.ID, domain.ExecutionPending)
		f.execState(running.ID, domain.ExecutionRunning)
	})
}
