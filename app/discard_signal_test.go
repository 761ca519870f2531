package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
)

// A signal with a payload that would fail the workflow is discarded before
// a worker runs it; the workflow then gets the good one that follows.
func TestDiscardSignalSavesTheRunFromABadPayload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := app.NewRegistry()
	double := app.Register(reg, "double", func(ctx context.Context, _ string) (int, error) {
		n, err := app.WaitForSignal[int](ctx, "n")
		return 2 * n, err
	})
	eng := newEngine(t, memstore.New(), reg)

	id, err := double.Dispatch(ctx, eng, "x")
	if err != nil {
		t.Fatal(err)
	}
	// No worker runs yet: both messages stay pending.
	for _, p := range []any{"not a number", 21} {
		if err := eng.SendSignal(ctx, id, "n", p); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := eng.Signals(ctx, id)
	if err != nil || len(msgs) != 2 || msgs[0].Seq != 1 || msgs[0].ConsumedBy != "" {
		t.Fatalf("Signals = %+v, %v; want two pending messages", msgs, err)
	}
	got, err := eng.DiscardSignal(ctx, id, "n", msgs[0].Seq)
	if err != nil || string(got.Payload) != `"not a number"` {
		t.Fatalf("DiscardSignal = %+v, %v; want the bad message", got, err)
	}
	if _, err := eng.DiscardSignal(ctx, id, "n", 1); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("second DiscardSignal: %v; want ErrNotFound", err)
	}
	if _, err := eng.DiscardSignal(ctx, id, "n", 0); !errors.Is(err, app.ErrInvalidArgument) {
		t.Errorf("DiscardSignal seq 0: %v; want ErrInvalidArgument", err)
	}

	runWorker(t, eng)

	out, err := double.Await(ctx, eng, id)
	if err != nil || out != 42 {
		t.Fatalf("Await = %d, %v; want 42", out, err)
	}
	if _, err := eng.DiscardSignal(ctx, id, "n", 2); !errors.Is(err, app.ErrConflict) {
		t.Errorf("DiscardSignal of the consumed message: %v; want ErrConflict", err)
	}
}
