package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// secondGeneration starts an execution whose root has been retried once
// and reclaimed, so it runs at generation 1.
func (f *fixture) secondGeneration(o execOpts) (domain.Execution, domain.Task) {
	f.t.Helper()
	e, root := f.start(o)
	f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: root.Fence(), Error: storeError("retry"), RunAt: root.CreatedAt, Now: root.CreatedAt}), "RetryTask")
	again := f.claimOne(root.CreatedAt, root.StepName)
	if again.Generation != 1 {
		f.t.Fatalf("%s: root generation after a retry = %d; want 1", f.name, again.Generation)
	}
	return e, again
}

func testSteps(t *testing.T, h storeSuite) {
	h.run(t, "create steps inserts missing records under the parent", func(t *testing.T, f *fixture) {
		deadline := at(time.Hour)
		e, root := f.secondGeneration(execOpts{Deadline: &deadline})
		spec := activitySpec(root, 1, "charge")
		spec.MaxConcurrent, spec.Priority, spec.Queue = 4, 9, "payments"
		spec.Tags = []string{"pci"}
		spec.CacheKey = "cache-1"
		spec.TraceContext = map[string]string{"traceparent": "00-1-2-01"}
		now := at(time.Second)
		got := f.steps(root, now, spec)[0]
		for name, c := range map[string]domain.Task{"returned": got, "stored": f.task(spec.ID)} {
			f.eq(name+" id", c.ID, spec.ID)
			f.eq(name+" execution", c.ExecutionID, e.ID)
			f.eq(name+" parent", c.ParentTaskID, root.ID)
			f.eq(name+" position", c.Position, 1)
			f.eq(name+" kind", c.Kind, domain.KindActivity)
			f.eq(name+" step name", c.StepName, "charge")
			f.eq(name+" state", c.State, domain.TaskPending)
			f.eqRaw(name+" input", c.Input, spec.Input)
			f.eq(name+" attempt", c.Attempt, 0)
			f.eq(name+" generation", c.Generation, 0)
			f.eq(name+" parent generation", c.ParentGeneration, 1)
			f.eq(name+" retry policy", c.RetryPolicy, storePolicy)
			f.eq(name+" routing", []any{c.MaxConcurrent, c.Priority, c.Queue, c.Tags}, []any{4, 9, "payments", []string{"pci"}})
			f.eq(name+" cache key", c.CacheKey, "cache-1")
			f.eq(name+" trace context", c.TraceContext, spec.TraceContext)
			f.eqTimePtr(name+" deadline", c.Deadline, &deadline)
			f.eqTime(name+" created_at", c.CreatedAt, now)
			f.eqTime(name+" updated_at", c.UpdatedAt, now)
			f.eqRaw(name+" result", c.Result, nil)
			f.eqTimePtr(name+" lease", c.LeaseExpiresAt, nil)
		}
	})

	h.run(t, "create steps returns existing records as stored, in spec order", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		first := f.steps(root, at(time.Second), activitySpec(root, 1, "one"), activitySpec(root, 2, "two"))
		one := f.claimID(at(time.Second), first[0].ID)
		f.complete(one, `"one done"`, at(2*time.Second))

		renamed := activitySpec(root, 1, "renamed")
		renamed.Input = js(`"changed"`)
		got := f.steps(root, at(time.Minute), activitySpec(root, 3, "three"), activitySpec(root, 2, "two"), renamed)
		f.eq("order", taskIDs(got), []string{activitySpec(root, 3, "").ID, first[1].ID, first[0].ID})
		f.eq("new record state", got[0].State, domain.TaskPending)
		f.eqTime("new record created_at", got[0].CreatedAt, at(time.Minute))
		f.eq("pending record", mustJSON(got[1]), mustJSON(f.task(first[1].ID)))
		f.eqTime("pending record created_at", got[1].CreatedAt, at(time.Second))
		f.eq("completed record state", got[2].State, domain.TaskCompleted)
		f.eq("completed record name", got[2].StepName, "one")
		f.eqRaw("completed record input", got[2].Input, first[0].Input)
		f.eqRaw("completed record result", got[2].Result, js(`"one done"`))
	})

	h.run(t, "data ops commit only when create steps inserts a record", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		add := func(n float64) []domain.DataOp {
			return []domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: n}, {Kind: domain.OpSetState, Key: "last", Value: js(`1`)}}
		}
		create := func(ops []domain.DataOp, specs ...ports.StepSpec) {
			_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), specs, ops, at(time.Second))
			f.noErr(err, "CreateSteps")
		}
		create(add(1), activitySpec(root, 1, "a"))
		f.eq("after an insert", f.data(e.ID).Counters["n"], 1.0)
		create(add(10), activitySpec(root, 1, "a"))
		f.eq("after a re-attach only", f.data(e.ID).Counters["n"], 1.0)
		create(add(100))
		f.eq("after no specs", f.data(e.ID).Counters["n"], 1.0)
		create(add(1000), activitySpec(root, 1, "a"), activitySpec(root, 2, "b"))
		f.eq("after a re-attach and an insert", f.data(e.ID).Counters["n"], 1001.0)
		f.eqRaw("state", f.data(e.ID).State["last"], js(`1`))
	})

	h.run(t, "an inline claim inserts the activity running with attempt 1", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		spec := activitySpec(root, 1, "inline")
		lease := at(10 * time.Minute)
		spec.Claim = &ports.StepClaim{WorkerID: workerB, Token: domain.NewID(), LeaseExpiresAt: lease}
		now := at(time.Second)
		got := f.steps(root, now, spec)[0]
		for name, c := range map[string]domain.Task{"returned": got, "stored": f.task(spec.ID)} {
			f.eq(name+" state", c.State, domain.TaskRunning)
			f.eq(name+" attempt", c.Attempt, 1)
			f.eq(name+" worker", c.WorkerID, workerB)
			f.eq(name+" token", c.ClaimToken, spec.Claim.Token)
			f.eqTimePtr(name+" lease", c.LeaseExpiresAt, &lease)
			f.eqTimePtr(name+" started_at", c.StartedAt, &now)
		}
		f.eq("claimable by others", len(f.claimFns(at(time.Minute), "inline")), 0)
		f.complete(got, `"inline"`, at(time.Minute))
		f.state(got.ID, domain.TaskCompleted)
	})

	h.run(t, "an inline claim never claims an existing record, a hit or a link", func(t *testing.T, f *fixture) {
		// A cache entry and an idempotency record from an earlier run.
		_, other := f.start(execOpts{})
		cached := activitySpec(other, 1, "cached")
		cached.CacheKey = "c1"
		keyed := activitySpec(other, 2, "keyed")
		keyed.IdempotencyKey = "k1"
		holder := activitySpec(other, 3, "held")
		holder.IdempotencyKey = "k2"
		recs := f.steps(other, at(time.Second), cached, keyed, holder)
		f.complete(f.claimID(at(time.Second), recs[0].ID), `"c"`, at(2*time.Second))
		f.complete(f.claimID(at(time.Second), recs[1].ID), `"k"`, at(2*time.Second))

		_, root := f.start(execOpts{})
		existing := f.steps(root, at(3*time.Second), activitySpec(root, 1, "existing"))[0]
		claim := func(s ports.StepSpec) ports.StepSpec {
			s.Claim = &ports.StepClaim{WorkerID: workerB, Token: domain.NewID(), LeaseExpiresAt: at(time.Hour)}
			return s
		}
		cHit := activitySpec(root, 2, "cached")
		cHit.CacheKey = "c1"
		kHit := activitySpec(root, 3, "keyed")
		kHit.IdempotencyKey = "k1"
		link := activitySpec(root, 4, "held")
		link.IdempotencyKey = "k2"
		got := f.steps(root, at(4*time.Second), claim(activitySpec(root, 1, "existing")), claim(cHit), claim(kHit), claim(link))
		f.eq("existing record", mustJSON(got[0]), mustJSON(existing))
		f.eq("cache hit", got[1].State, domain.TaskCompleted)
		f.eq("idempotency hit", got[2].State, domain.TaskCompleted)
		f.eq("link kind", got[3].Kind, domain.KindLink)
		f.eq("link state", got[3].State, domain.TaskPending)
		for _, c := range got {
			f.eq(c.StepName+" worker", c.WorkerID, "")
		}
	})
}

func testSleepAndReset(t *testing.T, h storeSuite) {
	h.run(t, "a sleep is created pending with its wake-up time", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		wake := at(10 * time.Second)
		got := f.steps(root, at(time.Second), sleepSpec(root, 1, wake))[0]
		f.eq("kind", got.Kind, domain.KindSleep)
		f.eq("name", got.StepName, domain.SleepStepName)
		f.eq("state", got.State, domain.TaskPending)
		f.eqTimePtr("scheduled_for", got.ScheduledFor, &wake)
	})

	h.run(t, "complete sleep completes a due sleep and returns others unchanged", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		wake := at(10 * time.Second)
		sl := f.steps(root, at(time.Second), sleepSpec(root, 1, wake))[0]
		early, err := f.s.CompleteSleep(f.ctx, root.Fence(), sl.ID, wake.Add(-time.Microsecond))
		f.noErr(err, "CompleteSleep 1 µs early")
		f.eq("early", mustJSON(early), mustJSON(sl))
		f.eq("stored after early", mustJSON(f.task(sl.ID)), mustJSON(sl))
		done, err := f.s.CompleteSleep(f.ctx, root.Fence(), sl.ID, wake)
		f.noErr(err, "CompleteSleep at wake-up")
		f.eq("state at wake-up", done.State, domain.TaskCompleted)
		f.eqTimePtr("finished_at", done.FinishedAt, &wake)
		f.eq("stored", mustJSON(f.task(sl.ID)), mustJSON(done))
		again, err := f.s.CompleteSleep(f.ctx, root.Fence(), sl.ID, wake.Add(time.Hour))
		f.noErr(err, "CompleteSleep again")
		f.eq("completed twice", mustJSON(again), mustJSON(done))
	})

	h.run(t, "complete sleep ends a due signal wait with a deadline without a message, and a later signal waits for the next wait", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		deadline := at(10 * time.Second)
		spec := signalSpec(root, 1, "go")
		spec.ScheduledFor = &deadline
		w := f.steps(root, at(time.Second), spec)[0]
		f.eq("state", w.State, domain.TaskPending)
		f.eqTimePtr("scheduled_for", w.ScheduledFor, &deadline)
		early, err := f.s.CompleteSleep(f.ctx, root.Fence(), w.ID, deadline.Add(-time.Microsecond))
		f.noErr(err, "CompleteSleep 1 µs early")
		f.eq("early", mustJSON(early), mustJSON(w))
		done, err := f.s.CompleteSleep(f.ctx, root.Fence(), w.ID, deadline)
		f.noErr(err, "CompleteSleep at the deadline")
		f.eq("state at the deadline", done.State, domain.TaskCompleted)
		if len(done.Result) != 0 {
			t.Fatalf("a timed-out wait has result %s; want none", done.Result)
		}
		f.eq("stored", mustJSON(f.task(w.ID)), mustJSON(done))
		if got := f.send(e.ID, "go", `1`, at(time.Minute)); got != nil {
			t.Fatalf("a signal after the timeout completed step %s; want it buffered", got.ID)
		}
		next := f.steps(root, at(2*time.Minute), signalSpec(root, 2, "go"))[0]
		f.eqRaw("the next wait gets it", next.Result, js(`1`))

		// A signal delivered before the deadline wins: CompleteSleep returns
		// the completed wait as is.
		spec = signalSpec(root, 3, "go")
		late := at(time.Hour)
		spec.ScheduledFor = &late
		w = f.steps(root, at(3*time.Minute), spec)[0]
		f.send(e.ID, "go", `2`, at(4*time.Minute))
		got, err := f.s.CompleteSleep(f.ctx, root.Fence(), w.ID, late)
		f.noErr(err, "CompleteSleep of a delivered wait")
		f.eqRaw("delivered payload kept", got.Result, js(`2`))

		// A signal wait without a deadline is not a timed step.
		plain := f.steps(root, at(5*time.Minute), signalSpec(root, 4, "other"))[0]
		_, err = f.s.CompleteSleep(f.ctx, root.Fence(), plain.ID, at(time.Hour))
		f.isErr(err, domain.ErrInvalidArgument, "CompleteSleep of a signal wait without a deadline")
	})

	h.run(t, "complete sleep rejects unknown tasks, non-sleeps and other parents' sleeps", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		recs := f.steps(root, at(time.Second), activitySpec(root, 1, "job"), sleepSpec(root, 2, at(time.Second)))
		job := f.claimID(at(time.Second), recs[0].ID)
		jobSleep := f.steps(job, at(time.Second), sleepSpec(job, 1, at(time.Second)))[0]
		before := f.snapshot(e.ID)
		id := domain.NewID()
		_, err := f.s.CompleteSleep(f.ctx, root.Fence(), id, at(time.Minute))
		f.errNames(err, domain.ErrNotFound, id, "CompleteSleep of an unknown task")
		_, err = f.s.CompleteSleep(f.ctx, root.Fence(), recs[0].ID, at(time.Minute))
		f.isErr(err, domain.ErrInvalidArgument, "CompleteSleep of an activity")
		_, err = f.s.CompleteSleep(f.ctx, root.Fence(), jobSleep.ID, at(time.Minute))
		f.isErr(err, domain.ErrInvalidArgument, "CompleteSleep of another parent's sleep")
		_, err = f.s.CompleteSleep(f.ctx, job.Fence(), recs[1].ID, at(time.Minute))
		f.isErr(err, domain.ErrInvalidArgument, "CompleteSleep of the parent's sibling sleep")
		f.unchanged(before, "rejected CompleteSleep calls", e.ID)
	})

	h.run(t, "reset step re-queues a failed step for a newer parent generation", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		child := f.runChild(root, 1, "flaky", at(time.Second))
		f.fail(child, "boom", at(2*time.Second))
		f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: root.Fence(), Error: storeError("child failed"), RunAt: at(3 * time.Second), Now: at(3 * time.Second)}), "RetryTask root")
		root = f.claimOne(at(3*time.Second), root.StepName)

		spec := activitySpec(root, 1, "flaky")
		spec.Input = js(`{"fixed": true}`)
		got, err := f.s.ResetStep(f.ctx, root.Fence(), spec, at(4*time.Second))
		f.noErr(err, "ResetStep")
		for name, c := range map[string]domain.Task{"returned": got, "stored": f.task(child.ID)} {
			f.eq(name+" id", c.ID, child.ID)
			f.eq(name+" state", c.State, domain.TaskPending)
			f.eq(name+" attempt", c.Attempt, 0)
			f.eq(name+" generation", c.Generation, child.Generation+1)
			f.eq(name+" parent generation", c.ParentGeneration, 1)
			f.eqRaw(name+" input", c.Input, spec.Input)
			f.eq(name+" error", c.Error == nil && c.LastError == nil, true)
			f.eqRaw(name+" result", c.Result, nil)
			f.eqTimePtr(name+" lease", c.LeaseExpiresAt, nil)
			f.eqTimePtr(name+" scheduled_for", c.ScheduledFor, nil)
		}
		_, err = f.s.GetDeadLetter(f.ctx, child.ID)
		f.isErr(err, domain.ErrNotFound, "the reset step's dead letter")
		again := f.claimOne(at(4*time.Second), "flaky")
		f.eq("claimed attempt", again.Attempt, 1)
	})

	h.run(t, "reset step replaces a completed step's kind, name and input", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		child := f.runChild(root, 1, "old-name", at(time.Second))
		f.complete(child, `"old"`, at(2*time.Second))
		wake := at(time.Hour)
		got, err := f.s.ResetStep(f.ctx, root.Fence(), sleepSpec(root, 1, wake), at(3*time.Second))
		f.noErr(err, "ResetStep")
		f.eq("kind", got.Kind, domain.KindSleep)
		f.eq("name", got.StepName, domain.SleepStepName)
		f.eq("state", got.State, domain.TaskPending)
		f.eqRaw("input", got.Input, nil)
		f.eqRaw("result", got.Result, nil)
		f.eqTimePtr("scheduled_for", got.ScheduledFor, &wake)
		f.eq("stored", mustJSON(f.task(child.ID)), mustJSON(got))
	})

	h.run(t, "reset step re-queues a step cancelled with its execution after a root replay", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		f.fail(tr.root, "root failed", at(time.Minute))
		f.state(tr.waiting.ID, domain.TaskCancelled)
		_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: tr.root.ID, Now: at(2 * time.Minute)})
		f.noErr(err, "ReplayDeadLetter")
		root := f.claimOne(at(2*time.Minute), tr.root.StepName)
		got, err := f.s.ResetStep(f.ctx, root.Fence(), activitySpec(root, 3, "tree-waiting"), at(3*time.Minute))
		f.noErr(err, "ResetStep")
		f.eq("state", got.State, domain.TaskPending)
		f.eq("generation", got.Generation, tr.waiting.Generation+1)
		f.eq("parent generation", got.ParentGeneration, root.Generation)
		f.eq("claimed", taskIDs(f.claimFns(at(3*time.Minute), "tree-waiting")), []string{tr.waiting.ID})
	})

	h.run(t, "reset step refuses live steps and missing ones", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		recs := f.steps(root, at(time.Second), activitySpec(root, 1, "pending"), activitySpec(root, 2, "running"))
		f.claimID(at(time.Second), recs[1].ID)
		before := f.snapshot(e.ID)
		for _, r := range recs {
			_, err := f.s.ResetStep(f.ctx, root.Fence(), activitySpec(root, r.Position, "other"), at(time.Minute))
			f.isErr(err, domain.ErrInvalidTransition, "ResetStep of a "+r.StepName+" step")
		}
		missing := activitySpec(root, 9, "missing")
		_, err := f.s.ResetStep(f.ctx, root.Fence(), missing, at(time.Minute))
		f.errNames(err, domain.ErrNotFound, missing.ID, "ResetStep of a missing step")
		f.unchanged(before, "refused resets", e.ID)
	})
}
