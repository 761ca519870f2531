package contract

import (
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// testInlineAndBatchSteps covers StepSpec.Completed (an inline step whose
// body ran before its record) and CreateStepsBatch.
func testInlineAndBatchSteps(t *testing.T, h storeSuite) {
	h.run(t, "a completed outcome inserts the step already completed", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		spec := activitySpec(root, 1, "inline")
		started := at(time.Second)
		spec.Completed = &ports.StepOutcome{Result: js(`{"ok":0}`), StartedAt: started}
		now := at(2 * time.Second)
		ops := []domain.DataOp{{Kind: domain.OpAddCounter, Key: "steps", Number: 1}}
		got, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{spec}, ops, now)
		f.noErr(err, "CreateSteps")
		for name, c := range map[string]domain.Task{"returned": got[0], "stored": f.task(spec.ID)} {
			f.eq(name+" state", c.State, domain.TaskCompleted)
			f.eq(name+" kind", c.Kind, domain.KindActivity)
			f.eq(name+" attempt", c.Attempt, 1)
			f.eqRaw(name+" result", c.Result, js(`{"ok":0}`))
			f.eqTimePtr(name+" started_at", c.StartedAt, &started)
			f.eqTimePtr(name+" finished_at", c.FinishedAt, &now)
			f.eq(name+" worker", c.WorkerID, "")
			f.eqTimePtr(name+" lease", c.LeaseExpiresAt, nil)
		}
		f.eq("ops applied with the insert", f.data(e.ID).Counters["steps"], 1.0)
		if got := f.claimFns(at(time.Minute), "inline"); len(got) != 0 {
			t.Fatalf("%s: a completed inline step was claimed: %v", f.name, taskIDs(got))
		}
	})

	h.run(t, "a completed outcome for an existing record returns the record unchanged", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		first := f.steps(root, at(time.Second), activitySpec(root, 1, "inline"))[0]
		spec := activitySpec(root, 1, "inline")
		spec.Completed = &ports.StepOutcome{Result: js(`"late"`), StartedAt: at(time.Second)}
		got, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{spec},
			[]domain.DataOp{{Kind: domain.OpAddCounter, Key: "dropped", Number: 1}}, at(time.Minute))
		f.noErr(err, "CreateSteps")
		f.eq("record", mustJSON(got[0]), mustJSON(first))
		f.eq("stored state", f.task(spec.ID).State, domain.TaskPending)
		if _, ok := f.data(e.ID).Counters["dropped"]; ok {
			t.Fatalf("%s: ops applied although nothing was inserted", f.name)
		}
	})

	h.run(t, "a completed outcome is refused with a claim, a cache key, an idempotency key or on a sleep", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		outcome := &ports.StepOutcome{Result: js(`1`), StartedAt: at(time.Second)}
		claimed := activitySpec(root, 1, "x")
		claimed.Claim = &ports.StepClaim{WorkerID: workerA, Token: "t", LeaseExpiresAt: at(time.Hour)}
		cached := activitySpec(root, 1, "x")
		cached.CacheKey = "k"
		keyed := activitySpec(root, 1, "x")
		keyed.IdempotencyKey = "k"
		sleep := sleepSpec(root, 1, at(time.Hour))
		for _, spec := range []ports.StepSpec{claimed, cached, keyed, sleep} {
			spec.Completed = outcome
			_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{spec}, nil, at(time.Second))
			if !errors.Is(err, domain.ErrInvalidArgument) {
				t.Errorf("%s: kind %s, claim %v, cache %q, key %q: error %v; want ErrInvalidArgument",
					f.name, spec.Kind, spec.Claim != nil, spec.CacheKey, spec.IdempotencyKey, err)
			}
		}
		if _, err := f.s.GetTask(f.ctx, claimed.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: a refused spec was written (%v)", f.name, err)
		}
	})

	h.run(t, "a batch applies each parent's request and isolates a stale fence", func(t *testing.T, f *fixture) {
		e1, r1 := f.start(execOpts{})
		e2, r2 := f.start(execOpts{})
		_, r3 := f.start(execOpts{})
		stale := r3.Fence()
		stale.Token = "not-the-token"
		one := activitySpec(r1, 1, "job")
		one.Completed = &ports.StepOutcome{Result: js(`"r1"`), StartedAt: at(time.Second)}
		two := activitySpec(r2, 1, "job")
		three := activitySpec(r3, 1, "job")
		res, err := f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{
			{Parent: r1.Fence(), Specs: []ports.StepSpec{one}, Ops: []domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}, Now: at(2 * time.Second)},
			{Parent: stale, Specs: []ports.StepSpec{three}, Now: at(2 * time.Second)},
			{Parent: r2.Fence(), Specs: []ports.StepSpec{two, sleepSpec(r2, 2, at(time.Hour))}, Now: at(3 * time.Second)},
		})
		f.noErr(err, "CreateStepsBatch")
		if len(res) != 3 {
			t.Fatalf("%s: %d results for 3 requests", f.name, len(res))
		}
		f.noErr(res[0].Err, "request 1")
		f.noErr(res[2].Err, "request 3")
		if !errors.Is(res[1].Err, domain.ErrLeaseLost) {
			t.Fatalf("%s: stale request error %v; want ErrLeaseLost", f.name, res[1].Err)
		}
		f.eq("request 1 record", res[0].Tasks[0].State, domain.TaskCompleted)
		f.eq("request 1 stored", f.task(one.ID).State, domain.TaskCompleted)
		f.eq("request 1 ops", f.data(e1.ID).Counters["n"], 1.0)
		f.eq("request 3 records", len(res[2].Tasks), 2)
		f.eq("request 3 stored", f.task(two.ID).ExecutionID, e2.ID)
		f.eqTime("request 3 created_at", f.task(two.ID).CreatedAt, at(3*time.Second))
		if _, err := f.s.GetTask(f.ctx, three.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: the stale request wrote its step (%v)", f.name, err)
		}
	})

	h.run(t, "a batch returns the records that exist unchanged and inserts the rest", func(t *testing.T, f *fixture) {
		e1, r1 := f.start(execOpts{})
		e2, r2 := f.start(execOpts{})
		first := f.steps(r1, at(time.Second), activitySpec(r1, 1, "job"))[0]
		again := activitySpec(r1, 1, "job")
		again.Completed = &ports.StepOutcome{Result: js(`"late"`), StartedAt: at(time.Second)}
		next := activitySpec(r1, 2, "job")
		fresh := activitySpec(r2, 1, "job")
		fresh.Completed = &ports.StepOutcome{Result: js(`"r2"`), StartedAt: at(time.Second)}
		ops := []domain.DataOp{{Kind: domain.OpAddCounter, Key: "n", Number: 1}}
		res, err := f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{
			{Parent: r1.Fence(), Specs: []ports.StepSpec{again}, Ops: ops, Now: at(time.Minute)},
			{Parent: r2.Fence(), Specs: []ports.StepSpec{fresh}, Ops: ops, Now: at(time.Minute)},
		})
		f.noErr(err, "CreateStepsBatch")
		f.noErr(res[0].Err, "request 1")
		f.noErr(res[1].Err, "request 2")
		f.eq("existing record", mustJSON(res[0].Tasks[0]), mustJSON(first))
		f.eq("existing stored state", f.task(again.ID).State, domain.TaskPending)
		if _, ok := f.data(e1.ID).Counters["n"]; ok {
			t.Fatalf("%s: ops applied for a request that inserted nothing", f.name)
		}
		f.eq("new record", res[1].Tasks[0].State, domain.TaskCompleted)
		f.eq("new stored", f.task(fresh.ID).State, domain.TaskCompleted)
		f.eq("new request's ops", f.data(e2.ID).Counters["n"], 1.0)

		// A request with an existing and a new record inserts the new one
		// and applies its ops once.
		res, err = f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{
			{Parent: r1.Fence(), Specs: []ports.StepSpec{again, next}, Ops: ops, Now: at(2 * time.Minute)},
			{Parent: r2.Fence(), Specs: []ports.StepSpec{fresh}, Ops: ops, Now: at(2 * time.Minute)},
		})
		f.noErr(err, "second CreateStepsBatch")
		f.eq("records of request 1", len(res[0].Tasks), 2)
		f.eq("its existing record", mustJSON(res[0].Tasks[0]), mustJSON(first))
		f.eq("its new record's parent", res[0].Tasks[1].ParentTaskID, r1.ID)
		f.eq("its new record stored", f.task(next.ID).ExecutionID, e1.ID)
		f.eq("ops of the request that inserted one", f.data(e1.ID).Counters["n"], 1.0)
		f.eq("ops of the request that inserted none", f.data(e2.ID).Counters["n"], 1.0)
	})

	h.run(t, "a batch refuses a step id that exists under another parent", func(t *testing.T, f *fixture) {
		_, r1 := f.start(execOpts{})
		e2, r2 := f.start(execOpts{})
		theirs := f.steps(r1, at(time.Second), activitySpec(r1, 1, "job"))[0]
		before := f.snapshot(e2.ID)
		stolen := activitySpec(r2, 1, "job")
		stolen.ID = theirs.ID
		_, err := f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{
			{Parent: r2.Fence(), Specs: []ports.StepSpec{stolen}, Now: at(time.Minute)},
			{Parent: r1.Fence(), Specs: []ports.StepSpec{activitySpec(r1, 2, "job")}, Now: at(time.Minute)},
		})
		if !errors.Is(err, domain.ErrConflict) {
			t.Fatalf("%s: error %v; want ErrConflict", f.name, err)
		}
		f.unchanged(before, "a refused batch", e2.ID)
		f.eq("the other parent's record", mustJSON(f.task(theirs.ID)), mustJSON(theirs))
	})

	h.run(t, "a batch with bad input writes nothing", func(t *testing.T, f *fixture) {
		e, r1 := f.start(execOpts{})
		before := f.snapshot(e.ID)
		bad := activitySpec(r1, 2, "")
		_, err := f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{
			{Parent: r1.Fence(), Specs: []ports.StepSpec{activitySpec(r1, 1, "ok")}, Now: at(time.Second)},
			{Parent: r1.Fence(), Specs: []ports.StepSpec{bad}, Now: at(time.Second)},
		})
		if !errors.Is(err, domain.ErrInvalidArgument) {
			t.Fatalf("%s: error %v; want ErrInvalidArgument", f.name, err)
		}
		f.unchanged(before, "a refused batch", e.ID)
	})
}

// testFirstClaim checks that StartedAt records a task's first claim and
// nothing later changes it (the engine relies on it to know a run is the
// task's first, with no step records yet).
func testFirstClaim(t *testing.T, h storeSuite) {
	h.run(t, "started_at is written by the first claim only, which alone is flagged FirstClaim", func(t *testing.T, f *fixture) {
		first := at(time.Second)
		_, root := f.create(execOpts{Fn: "once"})
		claimOne := func(now time.Time, p ports.ClaimParams) ports.ClaimedTask {
			t.Helper()
			p.Functions, p.Now, p.Limit = []string{"once"}, now, 1
			got := f.claimed(p)
			if len(got) != 1 {
				t.Fatalf("%s: claim at %s returned %d tasks; want 1", f.name, now, len(got))
			}
			return got[0]
		}
		c1 := claimOne(first, ports.ClaimParams{})
		f.eqTimePtr("first claim started_at", c1.StartedAt, &first)
		f.eq("first claim FirstClaim", c1.FirstClaim, true)
		// Released and claimed again at the very same instant: StartedAt
		// equals Now, yet the task was claimed before.
		f.noErr(f.s.ReleaseTask(f.ctx, c1.Fence(), first, true), "ReleaseTask")
		c2 := claimOne(first, ports.ClaimParams{})
		f.eqTimePtr("started_at after a release", c2.StartedAt, &first)
		f.eq("FirstClaim after a release in the same instant", c2.FirstClaim, false)
		f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: c2.Fence(), Error: storeError("again"), RunAt: at(4 * time.Second), Now: at(4 * time.Second)}), "RetryTask")
		c3 := claimOne(at(5*time.Second), ports.ClaimParams{})
		f.eqTimePtr("started_at after a retry", c3.StartedAt, &first)
		f.eq("FirstClaim after a retry", c3.FirstClaim, false)
		c4 := claimOne(at(5*time.Second+storeLease), ports.ClaimParams{WorkerID: workerB})
		f.eqTimePtr("started_at after a reclaim", c4.StartedAt, &first)
		f.eq("FirstClaim of a reclaim", c4.FirstClaim, false)
		wake := at(3 * time.Hour)
		parked, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: c4.Fence(), WakeAt: &wake, Now: at(2 * time.Hour)})
		f.noErr(err, "ParkTask")
		f.eq("parked", parked, true)
		c5 := claimOne(wake, ports.ClaimParams{})
		f.eqTimePtr("started_at after a resume", c5.StartedAt, &first)
		f.eq("FirstClaim of a resume", c5.FirstClaim, false)
		f.fail(c5.Task, "boom", at(4*time.Hour))
		_, err = f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: root.ID, Now: at(5 * time.Hour)})
		f.noErr(err, "ReplayDeadLetter")
		c6 := claimOne(at(6*time.Hour), ports.ClaimParams{})
		f.eqTimePtr("started_at after a replay", c6.StartedAt, &first)
		f.eq("FirstClaim after a replay", c6.FirstClaim, false)

		// An inline step was claimed as it was inserted: its reclaim after
		// a lost lease is not a first claim either.
		_, parent := f.start(execOpts{Fn: "inline-parent"})
		sp := activitySpec(parent, 1, "inline-step")
		sp.Claim = &ports.StepClaim{WorkerID: workerA, Token: "inline-token", LeaseExpiresAt: at(time.Minute)}
		f.steps(parent, first, sp)
		re := f.claimed(ports.ClaimParams{WorkerID: workerB, Functions: []string{"inline-step"}, Now: at(2 * time.Minute)})
		if len(re) != 1 {
			t.Fatalf("%s: reclaim of the inline step returned %d tasks; want 1", f.name, len(re))
		}
		f.eq("FirstClaim of an inline step's reclaim", re[0].FirstClaim, false)
		f.eq("the inline step's recoveries", re[0].Recoveries, 1)
	})
}
