package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

type order struct {
	Customer string `json:"customer"`
}

func TestFlowLimitOptionsRejectBadValuesAtRegistration(t *testing.T) {
	t.Parallel()
	byCustomer := func(o order) string { return o.Customer }
	for _, c := range []struct {
		name string
		opts []app.RegisterOption
		want string
	}{
		{"a zero concurrency limit", []app.RegisterOption{app.WithConcurrency(0, byCustomer)}, "WithConcurrency: limit 0; want 1 or more"},
		{"a negative queue concurrency limit", []app.RegisterOption{app.WithQueueConcurrency(-2, byCustomer)}, "WithQueueConcurrency: limit -2"},
		{"a zero rate", []app.RegisterOption{app.WithRateLimit(0, time.Second, byCustomer)}, "WithRateLimit: limit 0"},
		{"a zero period", []app.RegisterOption{app.WithRateLimit(5, 0, byCustomer)}, "WithRateLimit: period 0s; want a positive duration"},
		{"a negative period", []app.RegisterOption{app.WithQueueRateLimit(5, -time.Second, byCustomer)}, "WithQueueRateLimit: period -1s"},
		{"a key of another input type", []app.RegisterOption{app.WithConcurrency(1, func(s string) string { return s })}, "WithConcurrency takes func(string) string, want func(app_test.order) string"},
		{"two concurrency limits", []app.RegisterOption{app.WithConcurrency(1, byCustomer), app.WithQueueConcurrency[order](2, nil)}, "a function has one concurrency limit"},
		{"WithMaxConcurrent beside WithConcurrency", []app.RegisterOption{app.WithMaxConcurrent(3), app.WithConcurrency(1, byCustomer)}, "WithMaxConcurrent(3) and WithConcurrency both set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg := app.NewRegistry()
			app.Register(reg, "charge", func(context.Context, order) (int, error) { return 1, nil }, c.opts...)
			err := reg.Err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("registration error %v; want it to say %q", err, c.want)
			}
			if !strings.Contains(err.Error(), `register "charge"`) {
				t.Errorf("registration error %v does not name the function", err)
			}
		})
	}
}

func TestAPanickingKeyFunctionFailsTheDispatch(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	reg := app.NewRegistry()
	fn := app.Register(reg, "charge", func(context.Context, order) (int, error) { return 1, nil },
		app.WithConcurrency(1, func(o order) string {
			if o.Customer == "" {
				panic("no customer on the order")
			}
			return o.Customer
		}))
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	_, err = fn.Dispatch(t.Context(), eng, order{})
	if err == nil || !strings.Contains(err.Error(), "no customer on the order") || !strings.Contains(err.Error(), "WithConcurrency key function") {
		t.Fatalf("dispatch error %v; want one carrying the panic", err)
	}
	execs, err := st.ListExecutions(t.Context(), ports.ExecutionFilter{})
	if err != nil || len(execs) != 0 {
		t.Fatalf("stored executions %v (%v); want none", execs, err)
	}
	id, err := fn.Dispatch(t.Context(), eng, order{Customer: "c7"})
	if err != nil {
		t.Fatalf("dispatch with a customer: %v", err)
	}
	ex, _ := st.GetExecution(t.Context(), id)
	root, _ := st.GetTask(t.Context(), ex.RootTaskID)
	if root.ConcurrencyKey != "function:charge:c7" || root.MaxConcurrent != 1 {
		t.Errorf("root task key %q, limit %d; want function:charge:c7, 1", root.ConcurrencyKey, root.MaxConcurrent)
	}
}

func TestARateLimitedExecutionSaysUntilWhen(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	reg := app.NewRegistry()
	fn := app.Register(reg, "notify", func(context.Context, order) (int, error) { return 1, nil },
		app.WithQueue("mail"), app.WithQueueRateLimit(1, time.Hour, func(o order) string { return o.Customer }))
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	first, err := fn.Dispatch(t.Context(), eng, order{Customer: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := fn.Dispatch(t.Context(), eng, order{Customer: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := fn.Dispatch(t.Context(), eng, order{Customer: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		_ = eng.Serve(ctx, app.WorkerOptions{PollInterval: 5 * time.Millisecond, PollIntervalMax: 20 * time.Millisecond})
	}()
	for _, id := range []string{first, other} {
		wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
		res, err := eng.WaitFor(wctx, id)
		wcancel()
		if err != nil || res.State != domain.ExecutionCompleted {
			t.Fatalf("execution %s: %v, %v; want completed", id, res.State, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := eng.StateOf(t.Context(), second)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(v.WaitReason, "rate limited until ") && strings.HasSuffix(v.WaitReason, "(notify)") {
			var held *time.Time
			for _, p := range v.Progress {
				held = p.RateLimitedUntil
			}
			if held == nil || !strings.Contains(v.WaitReason, held.UTC().Format("15:04:05")) {
				t.Fatalf("wait reason %q, progress hold %v; want the hold's time", v.WaitReason, held)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wait reason %q; want rate limited until ...", v.WaitReason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A child call whose key function panics fails that call with the panic
// message; the workflow that returns it fails with it, and the queue goes
// on: a later run of the same function completes.
func TestAPanickingKeyFunctionFailsTheCallNotTheQueue(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	reg := app.NewRegistry()
	charge := app.Register(reg, "charge", func(_ context.Context, o order) (string, error) { return "charged " + o.Customer, nil },
		app.WithConcurrency(1, func(o order) string {
			if o.Customer == "" {
				panic("no customer on the order")
			}
			return o.Customer
		}))
	flow := app.Register(reg, "checkout", func(ctx context.Context, o order) (string, error) {
		return charge.Call(ctx, o)
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		_ = eng.Serve(ctx, app.WorkerOptions{PollInterval: 5 * time.Millisecond, PollIntervalMax: 20 * time.Millisecond})
	}()
	wait := func(id string) domain.Result {
		t.Helper()
		wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer wcancel()
		res, err := eng.WaitFor(wctx, id)
		if err != nil {
			t.Fatalf("execution %s: %v", id, err)
		}
		return res
	}
	bad, err := flow.Dispatch(t.Context(), eng, order{})
	if err != nil {
		t.Fatal(err)
	}
	res := wait(bad)
	if res.State != domain.ExecutionFailed || res.Error == nil || !strings.Contains(res.Error.Message, "no customer on the order") {
		t.Fatalf("the run with a panicking key: %s, %+v; want failed with the panic message", res.State, res.Error)
	}
	good, err := flow.Dispatch(t.Context(), eng, order{Customer: "c7"})
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(good); res.State != domain.ExecutionCompleted {
		t.Fatalf("the next run: %s, %+v; want completed", res.State, res.Error)
	}
}
