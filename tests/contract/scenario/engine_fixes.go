package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// engineFixes holds the regression scenarios of features/045 (issue 13,
// point 6): a KeepAttempts replay runs the body, WaitForSignal's timeout
// (in memory and parked), and a wait that ran out told apart from an
// execution that timed out.
func engineFixes(t *testing.T, newStore StoreFactory) {
	t.Run("a KeepAttempts replay of a task that used up its attempts runs the body again", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs atomic.Int32
		var failing atomic.Bool
		failing.Store(true)
		fn := app.Register(h.reg, "exhausted", func(context.Context, int) (string, error) {
			n := runs.Add(1)
			if failing.Load() {
				return "", fmt.Errorf("run %d fails", n)
			}
			return fmt.Sprintf("ok after %d runs", n), nil
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: domain.NoJitter}))
		h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1)
		if res := h.wait(id); res.State != domain.ExecutionFailed {
			t.Fatalf("state %s, want failed", res.State)
		}
		if n := runs.Load(); n != 2 {
			t.Fatalf("%d runs before the dead letter, want 2 (MaxAttempts)", n)
		}
		dls, err := h.engine().DeadLetters(h.ctx(), ports.DeadLetterFilter{})
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters %v %v", dls, err)
		}
		failing.Store(false)
		replayed, err := h.engine().ReplayDeadLetter(h.ctx(), dls[0].TaskID, app.KeepAttempts())
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if replayed.Attempt != 2 {
			t.Fatalf("replayed attempt %d, want the kept 2", replayed.Attempt)
		}
		got, err := await(h, fn, id)
		if err != nil || got != "ok after 3 runs" {
			t.Fatalf("after the replay: %q %v (the body must run again)", got, err)
		}
		res, err := h.engine().ResultOf(h.ctx(), id)
		if err != nil || res.State != domain.ExecutionCompleted || string(res.Value) != `"ok after 3 runs"` {
			t.Fatalf("recorded outcome %+v %v", res, err)
		}
		view, err := h.engine().StateOf(h.ctx(), id)
		if err != nil || view.RootAttempts != 3 || view.RootRecoveries != 0 {
			t.Fatalf("root attempts %d recoveries %d (%v); want 3 and 0", view.RootAttempts, view.RootRecoveries, err)
		}
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 0 {
			t.Fatalf("dead letters left: %d", n)
		}
	})

	t.Run("a typed dispatch of a function the engine's registry does not know is ErrUnregisteredFunction and writes nothing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		known := app.Register(h.reg, "typed-known", func(_ context.Context, n int) (int, error) { return n + 1, nil })
		h.worker(app.WorkerOptions{}) // publishes the catalogue in the store
		other := app.NewRegistry()
		stranger := app.Register(other, "typed-stranger", func(_ context.Context, n int) (int, error) { return n, nil })
		impostor := app.Register(other, "typed-known", func(_ context.Context, n int) (int, error) { return n - 1, nil })
		check := func(what string, err error, name string) {
			t.Helper()
			wantIs(t, err, app.ErrUnregisteredFunction)
			var ue *app.UnregisteredFunctionError
			if !errors.As(err, &ue) || ue.Name != name || !strings.Contains(err.Error(), "typed-known") {
				t.Fatalf("%s: %v (%T); want it to name %q and list typed-known", what, err, err, name)
			}
		}
		_, err := stranger.Dispatch(h.ctx(), h.engine(), 1)
		check("Dispatch of another registry's function", err, "typed-stranger")
		_, err = impostor.Dispatch(h.ctx(), h.engine(), 1)
		check("Dispatch of another body under a registered name", err, "typed-known")
		_, err = stranger.DispatchMany(h.ctx(), h.engine(), []int{1, 2})
		check("DispatchMany", err, "typed-stranger")
		_, err = stranger.Call(app.WithEngine(h.ctx(), h.engine()), 1)
		check("Call through WithEngine", err, "typed-stranger")
		execs, err := h.store.ListExecutions(h.ctx(), ports.ExecutionFilter{})
		if err != nil || len(execs) != 0 {
			t.Fatalf("executions written: %d (%v); want none", len(execs), err)
		}
		tasks, err := h.store.ListTasks(h.ctx(), ports.TaskFilter{})
		if err != nil || len(tasks) != 0 {
			t.Fatalf("tasks written: %d (%v); want none", len(tasks), err)
		}
		if got, err := await(h, known, dispatch(h, known, 1)); err != nil || got != 2 {
			t.Fatalf("the engine's own handle: %d %v; want 2", got, err)
		}
	})

	engineDeadlines(t, newStore)
}

func wantNotIs(t *testing.T, err, target error) {
	t.Helper()
	if errors.Is(err, target) {
		t.Fatalf("error %v (%T) matches %v; it must not", err, err, target)
	}
}
