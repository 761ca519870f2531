package scenario

import (
	"maps"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/replay"
)

// engineReplay checks the replayer (features/048) against histories the
// store under test recorded and returns (replay.LoadHistory), not only
// memstore's: runs of the patch scenarios' workflow are recorded under
// v1, then replayed against the code of the next deploy. Nothing runs a
// step body during a replay.
func engineReplay(t *testing.T, newStore StoreFactory) {
	t.Run("a stored run replayed against an unpatched change is diverged naming the call and both functions; a patched change replays clean", func(t *testing.T) {
		t.Parallel()
		h, deployed, wf, runs := deployable(t, newStore)
		deploy(deployed, orderV1)
		done := dispatch(h, wf, "")
		waitParked(t, h, done)
		out, err := finish(t, h, wf, done)
		wantPath(t, "the recorded run", out, err, "reserve,charge,go,ship")
		parked := dispatch(h, wf, "")
		waitParked(t, h, parked)

		load := func(id string) replay.History {
			t.Helper()
			hist, err := replay.LoadHistory(h.ctx(), h.store, id)
			if err != nil {
				t.Fatalf("LoadHistory(%s): %v", id, err)
			}
			// A JSON round trip, as `stent export` and ReplayDir do.
			b, err := hist.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := replay.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			return back
		}
		doneH, parkedH := load(done), load(parked)
		if doneH.State != domain.ExecutionCompleted || len(doneH.Steps) != 4 {
			t.Fatalf("completed history: state %s, %d steps; want completed, 4", doneH.State, len(doneH.Steps))
		}
		before := runs.snapshot()

		rep := func(c code, hist replay.History) replay.Report {
			t.Helper()
			deploy(deployed, c)
			r, err := replay.Replay(h.ctx(), h.reg, hist)
			if err != nil {
				t.Fatalf("Replay(%s): %v", hist.ExecutionID, err)
			}
			return r
		}
		for _, c := range []struct {
			what string
			hist replay.History
		}{{"the completed run", doneH}, {"the parked run", parkedH}} {
			r := rep(unguarded, c.hist)
			if r.Outcome != replay.Diverged || r.Divergence == nil {
				t.Fatalf("%s against the unguarded change: %s; want diverged", c.what, r)
			}
			if d := *r.Divergence; d.Position != 2 || d.Recorded != "charge" || d.New != "receipt" {
				t.Fatalf("%s: divergence %+v; want call #2, recorded charge, now receipt", c.what, d)
			}
			for _, want := range []string{"diverged", "call #2", `recorded "charge"`, `now "receipt"`} {
				if !strings.Contains(r.String(), want) {
					t.Fatalf("%s: report %q does not contain %q", c.what, r, want)
				}
			}
		}
		if r := rep(orderV2, doneH); r.Outcome != replay.Clean {
			t.Fatalf("the completed run against the patched change: %s; want clean", r)
		}
		if r := rep(orderV2, parkedH); r.Outcome != replay.Continues || !r.OK() {
			t.Fatalf("the parked run against the patched change: %s; want continues", r)
		}
		if r := rep(orderV1, doneH); r.Outcome != replay.Clean {
			t.Fatalf("the completed run against its own code: %s; want clean", r)
		}
		if after := runs.snapshot(); !maps.Equal(before, after) {
			t.Fatalf("step bodies ran during the replays: %v before, %v after", before, after)
		}
		// The recorded runs are untouched: the parked one still finishes
		// on the code that recorded it.
		deploy(deployed, orderV1)
		out, err = finish(t, h, wf, parked)
		wantPath(t, "the parked run after the replays", out, err, "reserve,charge,go,ship")
	})
}
