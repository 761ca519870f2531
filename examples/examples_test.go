package examples_test

import (
	"context"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/examples"
)

func start(t *testing.T) (*app.Engine, *examples.Functions) {
	t.Helper()
	reg := app.NewRegistry()
	fns := examples.Register(reg)
	st := memstore.New()
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Serve(ctx, app.WorkerOptions{PollInterval: 10 * time.Millisecond}) }()
	t.Cleanup(func() { cancel(); <-done; _ = eng.Close(); _ = st.Close() })
	return eng, fns
}

func TestOrderSagaShipsOrCompensates(t *testing.T) {
	t.Parallel()
	eng, fns := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := fns.PlaceOrder.Dispatch(ctx, eng, examples.Order{ID: "o1", Item: "lamp", Quantity: 1, Amount: 30, Address: "home"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := fns.PlaceOrder.Await(ctx, eng, id)
	if err != nil || r.Status != "shipped" || r.Tracking != "trk-o1" {
		t.Fatalf("%+v %v", r, err)
	}
	id, err = fns.PlaceOrder.Dispatch(ctx, eng, examples.Order{ID: "o2", Item: "lamp", Quantity: 1, Amount: 30, Address: "nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = fns.PlaceOrder.Await(ctx, eng, id)
	if err != nil || r.Status != "compensated" || len(r.Compensated) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestBatchRetriesFlakyItems(t *testing.T) {
	t.Parallel()
	eng, fns := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := fns.ProcessBatch.Dispatch(ctx, eng, examples.Batch{Name: "b", Items: []string{"a", "b", "c", "d"}, FlakyEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	r, err := fns.ProcessBatch.Await(ctx, eng, id)
	if err != nil || r.Total != 4 || r.Processed[3] != "D" {
		t.Fatalf("%+v %v", r, err)
	}
	v, err := eng.StateOf(ctx, id)
	if err != nil || v.Counters["processed"] != 4 {
		t.Fatalf("counters %v %v", v.Counters, err)
	}
}

func TestApprovalWaitsForTheSignal(t *testing.T) {
	t.Parallel()
	eng, fns := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := fns.Approval.Dispatch(ctx, eng, examples.ExpenseClaim{ID: "c1", Owner: "ana", Amount: 12.5, CoolingOff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.SendSignal(ctx, id, examples.ApprovalSignal, examples.Decision{Approved: true, By: "bo"}); err != nil {
		t.Fatal(err)
	}
	r, err := fns.Approval.Await(ctx, eng, id)
	if err != nil || !r.Approved || r.Paid == "" {
		t.Fatalf("%+v %v", r, err)
	}
	res, _ := eng.ResultOf(ctx, id)
	if res.State != domain.ExecutionCompleted {
		t.Fatalf("state %s", res.State)
	}
}
