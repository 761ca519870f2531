package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/replay"
)

// calls counts the bodies of the steps that ran (never during a replay).
var calls atomic.Int64

// build registers the workflow "wf" as deployed at version v:
//
//	v1: reserve, charge
//	v2: reserve, receipt, charge (an unguarded insertion)
//	v3: reserve, [Patched("receipt") receipt], charge
//	wait: reserve, wait for signal "go", charge
func build(v string) *app.Registry {
	reg := app.NewRegistry()
	step := func(name string) *app.Function[string, string] {
		return app.Register(reg, name, func(ctx context.Context, in string) (string, error) {
			calls.Add(1)
			return name + ":" + in, nil
		})
	}
	reserve, charge, receipt := step("reserve"), step("charge"), step("receipt")
	app.Register(reg, "wf", func(ctx context.Context, in string) (string, error) {
		out, err := reserve.Call(ctx, in)
		if err != nil {
			return "", err
		}
		switch v {
		case "v2":
			if _, err := receipt.Call(ctx, in); err != nil {
				return "", err
			}
		case "v3":
			if app.Patched(ctx, "receipt") {
				if _, err := receipt.Call(ctx, in); err != nil {
					return "", err
				}
			}
		case "wait":
			if _, err := app.WaitForSignal[string](ctx, "go"); err != nil {
				return "", err
			}
		}
		c, err := charge.Call(ctx, in)
		return out + "," + c, err
	})
	return reg
}

// record runs wf at version v on a fresh store and returns its history;
// with finish false it stops once the run waits for its signal.
func record(t *testing.T, v string, finish bool) replay.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := memstore.New()
	eng, err := app.New(app.Deps{Store: st, Registry: build(v)}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Serve(sctx, app.WorkerOptions{PollInterval: 5 * time.Millisecond}) }()
	defer func() { stop(); <-done; _ = eng.Close() }()
	id, err := eng.DispatchByName(ctx, "wf", []byte(`"o1"`))
	if err != nil {
		t.Fatal(err)
	}
	if finish {
		if _, err := eng.WaitFor(ctx, id); err != nil {
			t.Fatal(err)
		}
	} else {
		for { // until the signal step is recorded
			h, err := replay.LoadHistory(ctx, st, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Steps) == 2 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the run never waited for its signal")
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	h, err := replay.LoadHistory(ctx, st, id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func replayed(t *testing.T, v string, h replay.History) replay.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := calls.Load()
	rep, err := replay.Replay(ctx, build(v), h)
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load() - before; n != 0 {
		t.Fatalf("the replay ran %d step bodies", n)
	}
	return rep
}

func TestUnchangedWorkflowReplaysClean(t *testing.T) {
	h := record(t, "v1", true)
	if h.State != domain.ExecutionCompleted || len(h.Steps) != 2 || h.Steps[1].Name != "charge" {
		t.Fatalf("history %+v", h)
	}
	if rep := replayed(t, "v1", h); rep.Outcome != replay.Clean || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
}

func TestInsertedCallIsReported(t *testing.T) {
	h := record(t, "v1", true)
	rep := replayed(t, "v2", h)
	want := replay.Divergence{Position: 2, Recorded: "charge", New: "receipt"}
	if rep.Outcome != replay.Diverged || rep.Divergence == nil || *rep.Divergence != want || rep.OK() {
		t.Fatalf("report %+v (divergence %+v)", rep, rep.Divergence)
	}
}

func TestNewCallPastAFinishedHistoryIsReported(t *testing.T) {
	h := record(t, "v1", true)
	h.Steps = h.Steps[:1] // as if the recorded code ended after reserve
	rep := replayed(t, "v1", h)
	want := replay.Divergence{Position: 2, New: "charge"}
	if rep.Outcome != replay.Diverged || rep.Divergence == nil || *rep.Divergence != want {
		t.Fatalf("report %+v", rep)
	}
}

func TestPatchMarkersReplayClean(t *testing.T) {
	old := record(t, "v1", true) // recorded before the patch: takes the old path
	if rep := replayed(t, "v3", old); rep.Outcome != replay.Clean {
		t.Fatalf("old run: %+v %+v", rep, rep.Divergence)
	}
	patched := record(t, "v3", true) // recorded with the marker
	if len(patched.Steps) != 4 || patched.Steps[1].Name != domain.PatchStepName("receipt") {
		t.Fatalf("history %+v", patched.Steps)
	}
	if rep := replayed(t, "v3", patched); rep.Outcome != replay.Clean {
		t.Fatalf("patched run: %+v %+v", rep, rep.Divergence)
	}
	// Removing the check without Deprecate is caught.
	rep := replayed(t, "v1", patched)
	if rep.Outcome != replay.Diverged || rep.Divergence.Recorded != domain.PatchStepName("receipt") || rep.Divergence.New != "charge" {
		t.Fatalf("check removed: %+v %+v", rep, rep.Divergence)
	}
}

func TestUnfinishedRunContinues(t *testing.T) {
	h := record(t, "wait", false)
	if h.Finished() {
		t.Fatalf("history %+v", h)
	}
	rep := replayed(t, "wait", h)
	if rep.Outcome != replay.Continues || !rep.OK() || rep.Next == nil || rep.Next.Position != 2 {
		t.Fatalf("report %+v (next %+v)", rep, rep.Next)
	}
	// A new call past its end would be the run's next step, not a divergence.
	h.Steps = h.Steps[:1]
	rep = replayed(t, "v1", h)
	if rep.Outcome != replay.Continues || rep.Next == nil || rep.Next.New != "charge" {
		t.Fatalf("report %+v (next %+v)", rep, rep.Next)
	}
}

func TestHistoryJSONRoundTrip(t *testing.T) {
	h := record(t, "v3", true)
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	reps, err := replay.ReplayDir(context.Background(), build("v3"), dir)
	if err != nil || len(reps) != 1 || reps[0].Outcome != replay.Clean || reps[0].ExecutionID != h.ExecutionID {
		t.Fatalf("%+v %v", reps, err)
	}
	if _, err := replay.Unmarshal([]byte(`{"format":9}`)); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}
