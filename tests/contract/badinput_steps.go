package contract

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// badCase is one call with a bad argument. Its error must match
// ErrInvalidArgument, name the bad value (value, unless empty), say what is
// allowed (allowed) and be the error the ports validator returns for the
// same input (want): every store checks its parameters with the ports
// validators, so every store fails the same way.
type badCase struct {
	name    string
	value   string
	allowed string
	badCall
}

// badCall is a call and the validator's error for its input.
type badCall struct {
	want error
	call func() error
}

func bad(want error, call func() error) badCall { return badCall{want, call} }

func (f *fixture) checkBad(cases []badCase) {
	f.t.Helper()
	for _, tc := range cases {
		err := tc.call()
		f.isErr(err, domain.ErrInvalidArgument, tc.name)
		if tc.value != "" {
			f.errNames(err, domain.ErrInvalidArgument, tc.value, tc.name)
		}
		if tc.allowed != "" {
			f.errNames(err, domain.ErrInvalidArgument, tc.allowed, tc.name+" (what is allowed)")
		}
		if !errors.Is(tc.want, domain.ErrInvalidArgument) {
			f.t.Errorf("%s: %s: the ports validator accepts the input (%v)", f.name, tc.name, tc.want)
		} else {
			f.errNames(err, domain.ErrInvalidArgument, tc.want.Error(), tc.name+" (the validator's error)")
		}
	}
}

func testBadStepInput(t *testing.T, h storeSuite) {
	h.run(t, "bad step specs, data ops, fences and ids are invalid, say what is allowed and write nothing", func(t *testing.T, f *fixture) {
		now := at(time.Minute)
		exec, root := f.start(execOpts{Fn: "parent"})
		done := f.steps(root, now, activitySpec(root, 1, "job"))[0] // an existing record to reset
		dead, deadRoot := f.start(execOpts{Fn: "doomed"})
		f.fail(deadRoot, "boom", now)

		spec := func(mutate func(*ports.StepSpec)) ports.StepSpec {
			sp := activitySpec(root, 2, "job")
			mutate(&sp)
			return sp
		}
		specs := []struct {
			name, value, allowed string
			spec                 ports.StepSpec
		}{
			{"a spec without an id", "", "an id is required", spec(func(sp *ports.StepSpec) { sp.ID = "" })},
			{"a spec at position 0", "0", "want 1 or more", spec(func(sp *ports.StepSpec) { sp.Position = 0 })},
			{"a spec of an unknown kind", "widget", "allowed: activity, sleep, signal", spec(func(sp *ports.StepSpec) { sp.Kind = "widget" })},
			{"a spec without a step name", "", "a name is required", spec(func(sp *ports.StepSpec) { sp.StepName = "" })},
			{"a sleep with another step name", "nap", domain.SleepStepName, spec(func(sp *ports.StepSpec) {
				sp.Kind, sp.StepName = domain.KindSleep, "nap"
			})},
			{"a signal wait without the signal: prefix", "ping", "signal:<name>", spec(func(sp *ports.StepSpec) {
				sp.Kind, sp.StepName = domain.KindSignal, "ping"
			})},
			{"a spec with a negative max concurrent", "-1", "want 0 (no limit) or more", spec(func(sp *ports.StepSpec) { sp.MaxConcurrent = -1 })},
			{"an inline claim without a token", workerA, "both are required", spec(func(sp *ports.StepSpec) {
				sp.Claim = &ports.StepClaim{WorkerID: workerA, LeaseExpiresAt: now.Add(storeLease)}
			})},
			{"a completed outcome with a claim", "", "only for an activity without a claim, cache key or idempotency key", spec(func(sp *ports.StepSpec) {
				sp.Claim = &ports.StepClaim{WorkerID: workerA, Token: "t", LeaseExpiresAt: now.Add(storeLease)}
				sp.Completed = &ports.StepOutcome{Result: js(`1`), StartedAt: now}
			})},
		}
		ops := []struct {
			name, value, allowed string
			op                   domain.DataOp
		}{
			{"a data op of an unknown kind", "multiply", "allowed: add_counter, init_counter, set_state, init_state", domain.DataOp{Kind: "multiply", Key: "k"}},
			{"a counter op with a NaN number", "NaN", "want a finite number", domain.DataOp{Kind: domain.OpAddCounter, Key: "k", Number: math.NaN()}},
			{"a counter op with an infinite number", "+Inf", "want a finite number", domain.DataOp{Kind: domain.OpInitCounter, Key: "k", Number: math.Inf(1)}},
			{"a state op without a key", "", "a key is required", domain.DataOp{Kind: domain.OpSetState, Value: js(`1`)}},
		}
		noFence := domain.Fence{WorkerID: workerA, Token: root.ClaimToken}

		var cases []badCase
		for _, c := range specs {
			sp := c.spec
			cases = append(cases,
				badCase{"create steps: " + c.name, c.value, c.allowed, bad(sp.Validate(), func() error {
					_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{activitySpec(root, 3, "job"), sp}, nil, now)
					return err
				})},
				badCase{"batched create steps: " + c.name, c.value, c.allowed, bad(sp.Validate(), func() error {
					_, err := f.s.CreateStepsBatch(f.ctx, []ports.CreateStepsRequest{{Parent: root.Fence(), Specs: []ports.StepSpec{sp}, Now: now}})
					return err
				})})
			if c.spec.ID != "" {
				rs := c.spec // the same spec for the existing record
				rs.ID, rs.Position = done.ID, done.Position
				if c.name == "a spec at position 0" {
					rs.Position = 0
				}
				cases = append(cases, badCase{"reset step: " + c.name, c.value, c.allowed, bad(rs.Validate(), func() error {
					_, err := f.s.ResetStep(f.ctx, root.Fence(), rs, now)
					return err
				})})
			}
		}
		for _, c := range ops {
			ops := []domain.DataOp{{Kind: domain.OpSetState, Key: "ok", Value: js(`1`)}, c.op}
			cases = append(cases,
				badCase{"create steps: " + c.name, c.value, c.allowed, bad(ports.ValidateOps(ops), func() error {
					_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{activitySpec(root, 3, "job")}, ops, now)
					return err
				})},
				badCase{"complete tasks: " + c.name, c.value, c.allowed, bad(ports.ValidateOps(ops[1:]), func() error {
					_, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{{Fence: root.Fence(), Result: js(`1`), Ops: ops[1:], Now: now}})
					return err
				})})
		}
		const idRequired = "an id is required"
		cases = append(cases,
			badCase{"create steps with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				_, err := ports.CreateSteps(f.ctx, f.s, noFence, []ports.StepSpec{activitySpec(root, 3, "job")}, nil, now)
				return err
			})},
			badCase{"reset step with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				_, err := f.s.ResetStep(f.ctx, noFence, activitySpec(root, 1, "job"), now)
				return err
			})},
			badCase{"complete sleep with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				_, err := f.s.CompleteSleep(f.ctx, noFence, done.ID, now)
				return err
			})},
			badCase{"complete sleep without a sleep id", "", idRequired, bad(ports.ValidateID("sleep task id", ""), func() error {
				_, err := f.s.CompleteSleep(f.ctx, root.Fence(), "", now)
				return err
			})},
			badCase{"park with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				_, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: noFence, WakeAt: ptrTo(now), Now: now})
				return err
			})},
			badCase{"park with neither a wake-up time nor children", "", "want a wake-up time, children or both", bad(ports.ParkParams{Fence: root.Fence(), Now: now}.Validate(), func() error {
				_, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: root.Fence(), Now: now})
				return err
			})},
			badCase{"complete tasks with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				_, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{{Fence: root.Fence(), Now: now}, {Fence: noFence, Now: now}})
				return err
			})},
			badCase{"fail with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				return f.s.FailTask(f.ctx, ports.FailParams{Fence: noFence, Error: storeError("x"), Now: now})
			})},
			badCase{"retry with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				return f.s.RetryTask(f.ctx, ports.RetryParams{Fence: noFence, Error: storeError("x"), RunAt: now, Now: now})
			})},
			badCase{"release with a fence without a task id", "", idRequired, bad(ports.ValidateFence(noFence), func() error {
				return f.s.ReleaseTask(f.ctx, noFence, now, true)
			})},
			badCase{"execution progress without an id", "", idRequired, bad(ports.ValidateID("execution id", ""), func() error {
				_, err := f.s.ListProgress(f.ctx, "")
				return err
			})},
			badCase{"execution data without an id", "", idRequired, bad(ports.ValidateID("execution id", ""), func() error {
				_, err := f.s.GetExecutionData(f.ctx, "")
				return err
			})},
			badCase{"cancel without an execution id", "", idRequired, bad(ports.ValidateID("execution id", ""), func() error {
				_, _, err := f.s.CancelExecution(f.ctx, "", now)
				return err
			})},
			badCase{"timeout without an execution id", "", idRequired, bad(ports.ValidateID("execution id", ""), func() error {
				_, _, err := f.s.TimeoutExecution(f.ctx, "", now)
				return err
			})},
			badCase{"a signal without an execution id", "", idRequired, bad(ports.ValidateSignal("", "go"), func() error {
				_, err := f.s.SendSignal(f.ctx, "", "go", js(`1`), now)
				return err
			})},
			badCase{"a signal without a name", "", "a name is required", bad(ports.ValidateSignal(exec.ID, ""), func() error {
				_, err := f.s.SendSignal(f.ctx, exec.ID, "", js(`1`), now)
				return err
			})},
			badCase{"a dead letter without a task id", "", idRequired, bad(ports.ValidateID("task id", ""), func() error {
				_, err := f.s.GetDeadLetter(f.ctx, "")
				return err
			})},
			badCase{"a discard without a task id", "", idRequired, bad(ports.ValidateID("task id", ""), func() error { return f.s.DiscardDeadLetter(f.ctx, "") })},
			badCase{"a replay without a task id", "", idRequired, bad(ports.ReplayParams{Now: now}.Validate(), func() error {
				_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{Now: now})
				return err
			})},
			badCase{"a worker without an id to register", "", idRequired, bad(ports.ValidateID("worker id", ""), func() error {
				return f.s.RegisterWorker(f.ctx, domain.WorkerInfo{Name: "w"}, now)
			})},
			badCase{"a worker without an id to touch", "", idRequired, bad(ports.ValidateID("worker id", ""), func() error { return f.s.TouchWorker(f.ctx, "", now) })},
			badCase{"a worker without an id to stop", "", idRequired, bad(ports.ValidateID("worker id", ""), func() error { return f.s.StopWorker(f.ctx, "", now) })},
			badCase{"a catalogue entry without a name", "", "a name is required", bad(ports.ValidateFunctions([]domain.FunctionInfo{{Name: "ok"}, {}}), func() error {
				return f.s.UpsertFunctions(f.ctx, []domain.FunctionInfo{{Name: "ok"}, {}}, now)
			})},
		)
		before := f.snapshot(exec.ID, dead.ID)
		f.checkBad(cases)
		f.unchanged(before, "calls with bad arguments", exec.ID, dead.ID)
		f.eq("workers after bad calls", len(f.workers()), 0)
		fns, err := f.s.ListFunctions(f.ctx)
		f.noErr(err, "ListFunctions")
		f.eq("catalogue entries after bad calls", len(fns), 0)
	})
}
