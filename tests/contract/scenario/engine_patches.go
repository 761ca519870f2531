package scenario

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// order is one run of the patch scenarios' workflow: its steps each
// return their own name, and path collects what the run went through.
type order struct {
	ctx   context.Context
	steps map[string]*app.Function[string, string]
	path  []string
}

// call calls the step called name and adds its result to the path.
func (o *order) call(name string) error {
	out, err := o.steps[name].Call(o.ctx, "")
	if err != nil {
		return err
	}
	o.path = append(o.path, out)
	return nil
}

// wait waits for the signal "go" (the run parks there) and adds its
// payload to the path.
func (o *order) wait() error {
	v, err := app.WaitForSignal[string](o.ctx, "go")
	if err != nil {
		return err
	}
	o.path = append(o.path, v)
	return nil
}

// do runs the program's steps in order: a step name is a call, "wait"
// waits for the signal.
func (o *order) do(program ...string) error {
	for _, s := range program {
		var err error
		if s == "wait" {
			err = o.wait()
		} else {
			err = o.call(s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// code is a version of the workflow's body.
type code func(o *order) error

// deployable registers the steps reserve, receipt, charge and ship
// (counting the runs of each body) and a workflow "order" that runs
// whatever code is deployed when a run starts or resumes. Runs park on
// their signal wait at once, so a resumed run replays its recorded steps
// under the code deployed by then: that is how a deploy meets old runs.
func deployable(t *testing.T, newStore StoreFactory) (*harness, *atomic.Pointer[code], *app.Function[string, string], *counter) {
	t.Helper()
	h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
	runs := &counter{}
	steps := map[string]*app.Function[string, string]{}
	for _, name := range []string{"reserve", "receipt", "charge", "ship"} {
		steps[name] = app.Register(h.reg, name, func(context.Context, string) (string, error) {
			runs.inc(name)
			return name, nil
		})
	}
	var deployed atomic.Pointer[code]
	wf := app.Register(h.reg, "order", func(ctx context.Context, _ string) (string, error) {
		o := &order{ctx: ctx, steps: steps}
		err := (*deployed.Load())(o)
		return strings.Join(o.path, ","), err
	})
	h.worker(app.WorkerOptions{})
	return h, &deployed, wf, runs
}

// deploy makes c the code of every run that starts or resumes from now.
func deploy(p *atomic.Pointer[code], c code) { p.Store(&c) }

// The versions of the workflow's code.
var (
	// v1, the old code: reserve, charge, wait, ship.
	orderV1 code = func(o *order) error { return o.do("reserve", "charge", "wait", "ship") }
	// v2 sends a receipt before charging, behind a patch marker.
	orderV2 code = func(o *order) error {
		if err := o.do("reserve"); err != nil {
			return err
		}
		if app.Patched(o.ctx, "send-receipt") {
			if err := o.do("receipt"); err != nil {
				return err
			}
		}
		return o.do("charge", "wait", "ship")
	}
	// v3 keeps only the new path once the v1 runs are gone.
	orderV3 code = func(o *order) error {
		if err := o.do("reserve"); err != nil {
			return err
		}
		app.Deprecate(o.ctx, "send-receipt")
		return o.do("receipt", "charge", "wait", "ship")
	}
	// unguarded inserts the receipt without a marker.
	unguarded code = func(o *order) error { return o.do("reserve", "receipt", "charge", "wait", "ship") }
)

// stepNames lists the names of the steps an execution's root recorded, in
// call order.
func stepNames(h *harness, id string) []string {
	h.t.Helper()
	ex, err := h.store.GetExecution(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("GetExecution(%s): %v", id, err)
	}
	ts, err := h.store.ListTasks(h.ctx(), ports.TaskFilter{ExecutionID: id, ParentTaskID: ex.RootTaskID})
	if err != nil {
		h.t.Fatalf("ListTasks(%s): %v", id, err)
	}
	slices.SortFunc(ts, func(a, b domain.Task) int { return a.Position - b.Position })
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.StepName
	}
	return names
}

// finish sends the signal "go" to a parked run and returns its result.
func finish(t *testing.T, h *harness, wf *app.Function[string, string], id string) (string, error) {
	t.Helper()
	if err := h.engine().SendSignal(h.ctx(), id, "go", "go"); err != nil {
		t.Fatal(err)
	}
	return await(h, wf, id)
}

func wantPath(t *testing.T, what, got string, err error, want string) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("%s: %q %v; want %q", what, got, err, want)
	}
}

func wantSteps(t *testing.T, h *harness, what, id string, want ...string) {
	t.Helper()
	if got := stepNames(h, id); !slices.Equal(got, want) {
		t.Fatalf("%s recorded %q; want %q", what, got, want)
	}
}

func enginePatches(t *testing.T, newStore StoreFactory) {
	marker := domain.PatchStepName("send-receipt")

	t.Run("a change behind a patch marker resumes old runs on the old path and runs new ones on the new path", func(t *testing.T) {
		t.Parallel()
		h, code, wf, runs := deployable(t, newStore)
		deploy(code, orderV1)
		old := dispatch(h, wf, "")
		waitParked(t, h, old)

		deploy(code, orderV2)
		fresh := dispatch(h, wf, "")
		waitParked(t, h, fresh)

		out, err := finish(t, h, wf, old)
		wantPath(t, "the old run", out, err, "reserve,charge,go,ship")
		wantSteps(t, h, "the old run", old, "reserve", "charge", "signal:go", "ship")
		out, err = finish(t, h, wf, fresh)
		wantPath(t, "the new run", out, err, "reserve,receipt,charge,go,ship")
		wantSteps(t, h, "the new run", fresh, "reserve", marker, "receipt", "charge", "signal:go", "ship")
		if n := runs.get("receipt"); n != 1 {
			t.Fatalf("receipt ran %d times; want once (the new run only)", n)
		}
		for _, s := range []string{"reserve", "charge", "ship"} {
			if n := runs.get(s); n != 2 {
				t.Fatalf("%s ran %d times; want 2 (once per run, never on replay)", s, n)
			}
		}
	})

	t.Run("a run that reaches a patch marker for the first time takes the new path", func(t *testing.T) {
		t.Parallel()
		h, code, wf, runs := deployable(t, newStore)
		deploy(code, func(o *order) error { return o.do("reserve", "wait", "charge") })
		id := dispatch(h, wf, "")
		waitParked(t, h, id)
		deploy(code, func(o *order) error {
			if err := o.do("reserve", "wait"); err != nil {
				return err
			}
			if app.Patched(o.ctx, "send-receipt") {
				if err := o.do("receipt"); err != nil {
					return err
				}
			}
			return o.do("charge")
		})
		out, err := finish(t, h, wf, id)
		wantPath(t, "the resumed run", out, err, "reserve,go,receipt,charge")
		wantSteps(t, h, "the resumed run", id, "reserve", "signal:go", marker, "receipt", "charge")
		if n := runs.get("reserve"); n != 1 {
			t.Fatalf("reserve ran %d times; want once", n)
		}
	})

	t.Run("Deprecate replays runs that recorded the marker and records nothing for new runs", func(t *testing.T) {
		t.Parallel()
		h, code, wf, runs := deployable(t, newStore)
		deploy(code, orderV2)
		marked := dispatch(h, wf, "")
		waitParked(t, h, marked)

		deploy(code, orderV3)
		fresh := dispatch(h, wf, "")
		waitParked(t, h, fresh)

		out, err := finish(t, h, wf, marked)
		wantPath(t, "the run recorded under v2", out, err, "reserve,receipt,charge,go,ship")
		wantSteps(t, h, "the run recorded under v2", marked, "reserve", marker, "receipt", "charge", "signal:go", "ship")
		out, err = finish(t, h, wf, fresh)
		wantPath(t, "the new run", out, err, "reserve,receipt,charge,go,ship")
		wantSteps(t, h, "the new run", fresh, "reserve", "receipt", "charge", "signal:go", "ship")
		if n := runs.get("receipt"); n != 2 {
			t.Fatalf("receipt ran %d times; want 2 (once per run, never on replay)", n)
		}
	})

	t.Run("an unguarded change is non-determinism naming the call, both functions and the patch marker", func(t *testing.T) {
		t.Parallel()
		h, code, wf, _ := deployable(t, newStore)
		deploy(code, orderV1)
		id := dispatch(h, wf, "")
		waitParked(t, h, id)
		deploy(code, unguarded)
		if err := h.engine().SendSignal(h.ctx(), id, "go", "go"); err != nil {
			t.Fatal(err)
		}
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrNonDeterministic)
		msg := res.Err().Error()
		for _, want := range []string{"call #2", `recorded "charge"`, `now "receipt"`, "app.Patched(ctx, "} {
			if !strings.Contains(msg, want) {
				t.Fatalf("error %q does not contain %q", msg, want)
			}
		}
	})

	t.Run("a patch check removed without Deprecate is non-determinism naming the marker", func(t *testing.T) {
		t.Parallel()
		h, code, wf, _ := deployable(t, newStore)
		deploy(code, orderV2)
		id := dispatch(h, wf, "")
		waitParked(t, h, id)
		deploy(code, unguarded)
		if err := h.engine().SendSignal(h.ctx(), id, "go", "go"); err != nil {
			t.Fatal(err)
		}
		res := h.wait(id)
		wantIs(t, res.Err(), app.ErrNonDeterministic)
		msg := res.Err().Error()
		for _, want := range []string{"call #2", `recorded "` + marker + `"`, `app.Deprecate(ctx, "send-receipt")`} {
			if !strings.Contains(msg, want) {
				t.Fatalf("error %q does not contain %q", msg, want)
			}
		}
	})
}
