package stenttest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/stenttest"
)

const month = 30 * 24 * time.Hour

type order struct {
	ID     string
	Amount int
}

// billing is a small workflow: charge, sleep a month, wait for a renewal
// decision, charge again.
type billing struct {
	reg      *app.Registry
	charge   *app.Function[order, string]
	monthly  *app.Function[order, string]
	renewal  *app.Function[order, string]
	sleepFor time.Duration
}

func newBilling() *billing {
	b := &billing{reg: app.NewRegistry(), sleepFor: month}
	b.charge = app.Register(b.reg, "charge", func(_ context.Context, o order) (string, error) {
		return fmt.Sprintf("charged %s %d", o.ID, o.Amount), nil
	})
	b.monthly = app.Register(b.reg, "monthly", func(ctx context.Context, o order) (string, error) {
		first, err := b.charge.Call(ctx, o)
		if err != nil {
			return "", err
		}
		if err := app.Sleep(ctx, b.sleepFor); err != nil {
			return "", err
		}
		second, err := b.charge.Call(ctx, o)
		if err != nil {
			return "", err
		}
		return first + "; " + second, nil
	})
	b.renewal = app.Register(b.reg, "renewal", func(ctx context.Context, o order) (string, error) {
		ok, err := app.WaitForSignal[bool](ctx, "renew")
		if err != nil {
			return "", err
		}
		if !ok {
			return "stopped", nil
		}
		return b.charge.Call(ctx, o)
	})
	return b
}

// stores lists the stores the Env tests run on: the default memstore,
// WithSQLite, and PostgreSQL through WithStore (a schema of its own on
// STENT_TEST_POSTGRES_DSN; skipped without it unless
// STENT_REQUIRE_SERVICES is set).
func stores() map[string]func(t *testing.T) []stenttest.Option {
	return map[string]func(t *testing.T) []stenttest.Option{
		"memstore": func(*testing.T) []stenttest.Option { return nil },
		"sqlite":   func(*testing.T) []stenttest.Option { return []stenttest.Option{stenttest.WithSQLite()} },
		"postgres": func(t *testing.T) []stenttest.Option {
			return []stenttest.Option{stenttest.WithStore(teststore.Postgres(t))}
		},
	}
}

func TestThirtyDaySleepSkipsAhead(t *testing.T) {
	for name, opts := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBilling()
			env := stenttest.New(t, b.reg, opts(t)...)
			start := env.Now()
			wall := time.Now()
			got, err := stenttest.Run(env, b.monthly, order{ID: "o1", Amount: 5})
			took := time.Since(wall)
			t.Logf("%s: a %s sleep took %s of wall time", name, month, took)
			// Issue 13 asks for under a second; seen here: tens of
			// milliseconds, up to 2 s for SQLite under -race on a loaded
			// 2-CPU machine. The bound only catches a run that waited in
			// real time (or on a poll backoff), not a slow machine.
			if took > 20*time.Second {
				t.Errorf("a %s sleep took %s of wall time", month, took)
			}
			if err != nil || got != "charged o1 5; charged o1 5" {
				t.Fatalf("got %q, %v", got, err)
			}
			if moved := env.Now().Sub(start); moved < month {
				t.Fatalf("the virtual clock moved %s, want >= %s", moved, month)
			}
			if env.Skipped() < month {
				t.Fatalf("skipped %s, want >= %s", env.Skipped(), month)
			}
		})
	}
}

func TestStepsRecordTheCallsInOrder(t *testing.T) {
	b := newBilling()
	env := stenttest.New(t, b.reg)
	id := env.Dispatch(b.monthly, order{ID: "o2", Amount: 7})
	if res := env.Result(id); res.State != domain.ExecutionCompleted {
		t.Fatalf("state %s: %v", res.State, res.Err())
	}
	want := []string{"charge", domain.SleepStepName, "charge"}
	if got := env.StepNames(id); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	steps := env.Steps(id)
	if len(steps) != 4 || steps[0].Kind != domain.KindOrchestrator {
		t.Fatalf("steps %+v", steps)
	}
}

func TestSignalResumesAWaitWithoutMovingTheClock(t *testing.T) {
	for name, opts := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBilling()
			env := stenttest.New(t, b.reg, opts(t)...)
			id := env.Dispatch(b.renewal, order{ID: "o3", Amount: 9})
			env.Signal(id, "renew", true)
			got, err := stenttest.Await(env, b.renewal, id)
			if err != nil || got != "charged o3 9" {
				t.Fatalf("got %q, %v", got, err)
			}
			// A signal wait has no timer: nothing to skip to.
			if env.Skipped() != 0 {
				t.Fatalf("skipped %s while waiting for a signal", env.Skipped())
			}
		})
	}
}

func TestStubReplacesABodyForOneEnvOnly(t *testing.T) {
	b := newBilling()
	env := stenttest.New(t, b.reg)
	var calls atomic.Int32
	stenttest.Stub(env, b.charge, func(_ context.Context, o order) (string, error) {
		calls.Add(1)
		return "stubbed " + o.ID, nil
	})
	got, err := stenttest.Run(env, b.monthly, order{ID: "o4", Amount: 1})
	if err != nil || got != "stubbed o4; stubbed o4" {
		t.Fatalf("got %q, %v", got, err)
	}
	if calls.Load() != 2 {
		t.Fatalf("the stub ran %d times, want 2", calls.Load())
	}

	// The registry passed to New keeps the real body.
	other := stenttest.New(t, b.reg)
	if got, err := stenttest.Run(other, b.charge, order{ID: "o5", Amount: 2}); err != nil || got != "charged o5 2" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestStubErrorFailsTheWorkflow(t *testing.T) {
	b := newBilling()
	env := stenttest.New(t, b.reg)
	declined := errors.New("card declined")
	stenttest.Stub(env, b.charge, func(context.Context, order) (string, error) {
		return "", app.Permanent(declined)
	})
	_, err := stenttest.Run(env, b.monthly, order{ID: "o6", Amount: 3})
	if err == nil || !strings.Contains(err.Error(), "card declined") {
		t.Fatalf("err %v, want a failure", err)
	}
}

func TestStubOfAFunctionFromAnotherRegistryFails(t *testing.T) {
	b := newBilling()
	other := app.NewRegistry()
	stray := app.Register(other, "charge", func(context.Context, order) (string, error) { return "", nil })
	if err := app.Override(b.reg.Clone(), stray, func(context.Context, order) (string, error) { return "", nil }); !errors.Is(err, app.ErrUnregisteredFunction) {
		t.Fatalf("overriding a handle of another registry: %v", err)
	}
}
