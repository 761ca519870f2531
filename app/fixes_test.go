package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// TestLocalAsyncFuturesAreRaceFree runs local-mode futures (no task, no
// engine) through Get and AwaitAll; under -race it fails if a future's
// result is read before the goroutine that writes it is done.
func TestLocalAsyncFuturesAreRaceFree(t *testing.T) {
	t.Parallel()
	reg := app.NewRegistry()
	release := make(chan struct{})
	square := app.Register(reg, "square", func(_ context.Context, n int) (int, error) {
		<-release
		if n < 0 {
			return 0, fmt.Errorf("negative %d", n)
		}
		return n * n, nil
	})
	ctx := context.Background()
	var futs []*app.Future[int]
	for i := range 8 {
		futs = append(futs, square.Async(ctx, i))
	}
	bad := square.Async(ctx, -1)
	got := make(chan error, 1)
	go func() {
		// Get and AwaitAll start before the results exist.
		_, err := bad.Get(ctx)
		got <- err
	}()
	outs := make(chan []int, 1)
	go func() {
		o, err := app.AwaitAll(ctx, futs...)
		if err != nil {
			t.Errorf("AwaitAll: %v", err)
		}
		outs <- o
	}()
	close(release)
	if err := <-got; err == nil || !strings.Contains(err.Error(), "negative -1") {
		t.Fatalf("Get of the failing future: %v", err)
	}
	o := <-outs
	for i, v := range o {
		if v != i*i {
			t.Fatalf("AwaitAll[%d] = %d, want %d", i, v, i*i)
		}
	}
	if _, err := app.AwaitAll(ctx, futs[0], bad); err == nil {
		t.Fatal("AwaitAll with a failing future returned no error")
	}
}

// TestTypedDispatchChecksTheEnginesRegistry: a typed handle the engine's
// registry does not know (another registry's, or another function under
// the same name) is ErrUnregisteredFunction naming the function and the
// registered names, and nothing is written; Call, Map and Async through
// WithEngine check the same way.
func TestTypedDispatchChecksTheEnginesRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New()
	reg := app.NewRegistry()
	app.Register(reg, "known", func(_ context.Context, n int) (int, error) { return n, nil })
	same := app.Register(reg, "same", func(_ context.Context, n int) (int, error) { return n + 1, nil })
	eng, err := app.New(app.Deps{Store: store, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })

	other := app.NewRegistry()
	stranger := app.Register(other, "stranger", func(_ context.Context, n int) (int, error) { return n, nil })
	impostor := app.Register(other, "same", func(_ context.Context, n int) (int, error) { return n - 1, nil })

	check := func(what string, err error, name string) {
		t.Helper()
		if !errors.Is(err, app.ErrUnregisteredFunction) {
			t.Fatalf("%s: %v, want ErrUnregisteredFunction", what, err)
		}
		var ue *app.UnregisteredFunctionError
		if !errors.As(err, &ue) || ue.Name != name {
			t.Fatalf("%s: %v (%T) does not name %q", what, err, err, name)
		}
		for _, want := range []string{name, "known", "same"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: %q does not mention %q", what, err.Error(), want)
			}
		}
	}
	_, err = stranger.Dispatch(ctx, eng, 1)
	check("Dispatch of another registry's function", err, "stranger")
	_, err = impostor.Dispatch(ctx, eng, 1)
	check("Dispatch of another function under a registered name", err, "same")
	_, err = stranger.DispatchMany(ctx, eng, []int{1, 2})
	check("DispatchMany", err, "stranger")

	ectx := app.WithEngine(ctx, eng)
	_, err = stranger.Call(ectx, 1)
	check("Call through WithEngine", err, "stranger")
	_, err = stranger.Map(ectx, []int{1, 2})
	check("Map through WithEngine", err, "stranger")
	_, err = stranger.Async(ectx, 1).Get(ctx)
	check("Async through WithEngine", err, "stranger")

	execs, err := store.ListExecutions(ctx, ports.ExecutionFilter{})
	if err != nil || len(execs) != 0 {
		t.Fatalf("executions written: %d %v", len(execs), err)
	}
	// The engine's own handle dispatches.
	if _, err := same.Dispatch(ctx, eng, 1); err != nil {
		t.Fatalf("Dispatch of a registered function: %v", err)
	}
}

// TestUnregisteredFunctionErrorTruncatesLongLists keeps the message short
// when many functions are registered.
func TestUnregisteredFunctionErrorTruncatesLongLists(t *testing.T) {
	t.Parallel()
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("fn-%03d", i)
	}
	msg := (&app.UnregisteredFunctionError{Name: "x", Registered: names}).Error()
	if !strings.Contains(msg, "fn-000") || strings.Contains(msg, "fn-099") || !strings.Contains(msg, "and 80 more") {
		t.Fatalf("message %q: want the first names and a count of the rest", msg)
	}
}
