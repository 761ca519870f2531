package examples_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/examples"
	"github.com/stenthq/stent/replay"
)

// The CI check README's "Changing workflow code safely" describes: the
// histories in testdata/histories (written by `stent export <id>`, or by
// -update-histories here) are replayed against the current code; a change
// that breaks runs recorded under the old code fails this test.

var updateHistories = flag.Bool("update-histories", false, "re-record testdata/histories")

const historyDir = "testdata/histories"

func TestRecordedHistoriesReplayClean(t *testing.T) {
	if *updateHistories {
		recordHistories(t)
	}
	reg := app.NewRegistry()
	examples.Register(reg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reps, err := replay.ReplayDir(ctx, reg, historyDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) < 3 {
		t.Fatalf("%d histories in %s; want the recorded ones", len(reps), historyDir)
	}
	for _, r := range reps {
		if !r.OK() {
			t.Errorf("%s", r)
		}
	}
}

// recordHistories runs the examples on memstore and exports their
// histories: a shipped order, a compensated one, and an expense claim
// waiting for its approval (unfinished).
func recordHistories(t *testing.T) {
	eng, fns := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(name, id string) {
		h, err := replay.LoadHistory(ctx, eng.Store(), id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(historyDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(historyDir, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []examples.Order{
		{ID: "shipped", Item: "lamp", Quantity: 1, Amount: 30, Address: "home"},
		{ID: "compensated", Item: "lamp", Quantity: 1, Amount: 30, Address: "nowhere"},
	} {
		id, err := fns.PlaceOrder.Dispatch(ctx, eng, o, app.WithExecutionID("order-"+o.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fns.PlaceOrder.Await(ctx, eng, id); err != nil {
			t.Fatal(err)
		}
		write("order-"+o.ID, id)
	}
	id, err := fns.Approval.Dispatch(ctx, eng, examples.ExpenseClaim{ID: "c1", Owner: "ann", Amount: 12}, app.WithExecutionID("claim-waiting"))
	if err != nil {
		t.Fatal(err)
	}
	for { // until it waits for the approval signal
		h, err := replay.LoadHistory(ctx, eng.Store(), id)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(h.Steps); n > 0 && h.Steps[n-1].Name == "signal:"+examples.ApprovalSignal {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the claim never waited for its approval")
		case <-time.After(5 * time.Millisecond):
		}
	}
	write("claim-waiting", id)
}
