package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// readCounter counts the store's execution reads and tells reads on first.
type readCounter struct {
	ports.Store
	reads atomic.Int64
	first chan struct{}
}

func (s *readCounter) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	if s.reads.Add(1) == 1 {
		close(s.first)
	}
	return s.Store.GetExecution(ctx, id)
}

// awaitReads dispatches f (which blocks until release is closed), awaits
// it, releases it once Await made its first read, and returns Await's
// output, the number of execution reads Await made, and Await's error.
func awaitReads[O any](t *testing.T, f *app.Function[string, O], reg *app.Registry, release chan struct{}) (O, int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st := &readCounter{Store: memstore.New(), first: make(chan struct{})}
	eng := newEngine(t, st, reg)
	runWorker(t, eng)

	id, err := f.Dispatch(ctx, eng, "x")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out O
		err error
	}
	got := make(chan result, 1)
	go func() { out, err := f.Await(ctx, eng, id); got <- result{out, err} }()
	<-st.first // Await subscribed and read: the execution is still running
	close(release)
	r := <-got
	return r.out, st.reads.Load(), r.err
}

// Await subscribes, reads once, and takes the result the completion event
// carries: one execution read per Await (it used to be three: a first
// look, the check after subscribing, and a re-read after the event).
func TestAwaitReadsTheExecutionOnceWhenTheEventCarriesTheResult(t *testing.T) {
	t.Parallel()
	reg := app.NewRegistry()
	release := make(chan struct{})
	f := app.Register(reg, "held", func(ctx context.Context, _ string) (map[string]int, error) {
		<-release
		return map[string]int{"n": 42}, nil
	})
	out, reads, err := awaitReads(t, f, reg, release)
	if err != nil || out["n"] != 42 {
		t.Fatalf("Await = %v, %v; want n=42", out, err)
	}
	if reads != 1 {
		t.Fatalf("Await read the execution %d times; want 1", reads)
	}
}

// A result too large for an event is read from the store after the event.
func TestAwaitReadsALargeResultFromTheStore(t *testing.T) {
	t.Parallel()
	reg := app.NewRegistry()
	release := make(chan struct{})
	big := strings.Repeat("x", domain.MaxEventResultBytes+1)
	f := app.Register(reg, "held-big", func(ctx context.Context, _ string) (string, error) {
		<-release
		return big, nil
	})
	out, reads, err := awaitReads(t, f, reg, release)
	if err != nil || out != big {
		t.Fatalf("Await = %d bytes, %v; want %d bytes", len(out), err, len(big))
	}
	if reads < 2 {
		t.Fatalf("Await read the execution %d times; want the first read and one after the event", reads)
	}
}
