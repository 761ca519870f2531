package scenario

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

var fastRetry = domain.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: domain.NoJitter}

func engineRetries(t *testing.T, newStore StoreFactory) {
	t.Run("a function failing twice succeeds on its third attempt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		flaky := app.Register(h.reg, "flaky", func(ctx context.Context, _ int) (int, error) {
			tc, _ := app.CurrentTask(ctx)
			if tc.Attempt < 3 {
				return 0, fmt.Errorf("attempt %d failed", tc.Attempt)
			}
			return tc.Attempt, nil
		}, app.WithRetry(fastRetry))
		h.worker(app.WorkerOptions{})
		id := dispatch(h, flaky, 1)
		got, err := await(h, flaky, id)
		if err != nil || got != 3 {
			t.Fatalf("got %d, %v; want 3", got, err)
		}
		v, err := h.engine().StateOf(h.ctx(), id)
		if err != nil || v.RootAttempts != 3 {
			t.Fatalf("root attempts %d (%v), want 3", v.RootAttempts, err)
		}
	})

	t.Run("a retry is not claimable before its scheduled time and its lease is cleared", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		spy := &metricsSpy{failed: make(chan app.TaskInfo, 1)}
		h := newHarness(t, newStore, withClock(fc), withMetrics(spy))
		var runs counter
		fn := app.Register(h.reg, "later", func(context.Context, int) (string, error) {
			if runs.inc("n") == 1 {
				return "", errors.New("first attempt fails")
			}
			return "done", nil
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Minute, Jitter: domain.NoJitter}))
		h.worker(app.WorkerOptions{})
		id := dispatch(h, fn, 1)
		select {
		case <-spy.failed:
		case <-time.After(testTimeout):
			t.Fatal("first attempt never failed")
		}
		ex, _ := h.store.GetExecution(h.ctx(), id)
		root, err := h.store.GetTask(h.ctx(), ex.RootTaskID)
		if err != nil {
			t.Fatal(err)
		}
		want := fc.Now().Add(time.Minute)
		if root.State != domain.TaskPending || root.WorkerID != "" || root.LeaseExpiresAt != nil ||
			root.ScheduledFor == nil || !root.ScheduledFor.Equal(domain.NormalizeTime(want)) {
			t.Fatalf("retry record: state %s worker %q lease %v scheduled %v (want %v)",
				root.State, root.WorkerID, root.LeaseExpiresAt, root.ScheduledFor, want)
		}
		early, err := h.store.ClaimTasks(h.ctx(), ports.ClaimParams{WorkerID: "probe", Functions: []string{"later"},
			Limit: 1, Now: want.Add(-time.Microsecond), Lease: time.Minute})
		if err != nil || len(early) != 0 {
			t.Fatalf("claimable 1µs early: %v %v", early, err)
		}
		fc.Advance(time.Minute)
		got, err := await(h, fn, id)
		if err != nil || got != "done" || runs.get("n") != 2 {
			t.Fatalf("%q %v after %d runs", got, err, runs.get("n"))
		}
	})

	t.Run("non-retryable and permanent errors get one attempt and a dead letter", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		declined := app.Register(h.reg, "declined", func(context.Context, int) (int, error) {
			runs.inc("declined")
			return 0, app.NewError("card_declined", "declined")
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 5, InitialDelay: time.Millisecond, NonRetryable: []string{"card_declined"}}))
		permanent := app.Register(h.reg, "permanent", func(context.Context, int) (int, error) {
			runs.inc("permanent")
			return 0, app.Permanent(errors.New("no point retrying"))
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 5, InitialDelay: time.Millisecond}))
		h.worker(app.WorkerOptions{})
		h.wait(dispatch(h, declined, 1))
		h.wait(dispatch(h, permanent, 1))
		if runs.get("declined") != 1 || runs.get("permanent") != 1 {
			t.Fatalf("runs %v", runs.n)
		}
		n, err := h.store.CountDeadLetters(h.ctx())
		if err != nil || n != 2 {
			t.Fatalf("dead letters %d %v", n, err)
		}
	})

	t.Run("a dead-lettered task replays under the same id and succeeds", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		flakyOnce := app.Register(h.reg, "flaky-once", func(context.Context, int) (string, error) {
			n := runs.inc("n")
			if n == 1 {
				return "", app.Permanent(errors.New("first run fails"))
			}
			return fmt.Sprintf("ok-%d", n-1), nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, flakyOnce, 1)
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		dls, err := h.engine().DeadLetters(h.ctx(), ports.DeadLetterFilter{})
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters %v %v", dls, err)
		}
		ex, _ := h.store.GetExecution(h.ctx(), id)
		replayed, err := h.engine().ReplayDeadLetter(h.ctx(), dls[0].TaskID)
		if err != nil || replayed.ID != ex.RootTaskID {
			t.Fatalf("replay: %v (task %s, root %s)", err, replayed.ID, ex.RootTaskID)
		}
		got, err := await(h, flakyOnce, id)
		if err != nil || got != "ok-1" {
			t.Fatalf("%q %v", got, err)
		}
		if n, _ := h.store.CountDeadLetters(h.ctx()); n != 0 {
			t.Fatalf("dead letters left: %d", n)
		}
	})

	t.Run("a failed child is re-queued when its parent retries and completed siblings are reused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		var runs counter
		step := app.Register(h.reg, "step", func(_ context.Context, n int) (int, error) {
			runs.inc(fmt.Sprint("step", n))
			return n, nil
		})
		// One attempt per run, and a retryable error: the parent's retry
		// re-queues it with fresh attempts.
		shaky := app.Register(h.reg, "shaky", func(context.Context, int) (int, error) {
			if runs.inc("shaky") == 1 {
				return 0, errors.New("shaky fails once")
			}
			return 10, nil
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))
		parent := app.Register(h.reg, "parent", func(ctx context.Context, _ int) (int, error) {
			runs.inc("parent")
			a, err := step.Call(ctx, 1)
			if err != nil {
				return 0, err
			}
			b, err := shaky.Call(ctx, 0)
			if err != nil {
				return 0, fmt.Errorf("shaky: %w", err)
			}
			return a + b, nil
		}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Millisecond, Jitter: domain.NoJitter}))
		h.worker(app.WorkerOptions{})
		got, err := await(h, parent, dispatch(h, parent, 0))
		if err != nil || got != 11 {
			t.Fatalf("got %d, %v; want 11", got, err)
		}
		if runs.get("step1") != 1 || runs.get("shaky") != 2 || runs.get("parent") != 2 {
			t.Fatalf("runs: step1 %d (want 1), shaky %d (want 2), parent %d (want 2)",
				runs.get("step1"), runs.get("shaky"), runs.get("parent"))
		}
	})
}
