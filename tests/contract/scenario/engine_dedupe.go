package scenario

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
)

func engineDedupe(t *testing.T, newStore StoreFactory) {
	t.Run("concurrent dispatches with one singleton key from many goroutines run one execution", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		release := make(chan struct{})
		var runs sync.Map
		job := app.Register(h.reg, "singleton.job", func(ctx context.Context, n int) (int, error) {
			tc, _ := app.CurrentTask(ctx)
			runs.Store(tc.ExecutionID, true)
			select {
			case <-release:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return n, nil
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 4})
		eng := h.engine()
		const n = 12
		infos := make([]app.DispatchInfo, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := job.Dispatch(h.ctx(), eng, i, app.WithSingleton("nightly"), app.ReportDispatch(&infos[i])); err != nil {
					t.Errorf("dispatch %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		created := 0
		for i, info := range infos {
			if info.ExecutionID != infos[0].ExecutionID {
				t.Errorf("dispatch %d reported %s; dispatch 0 %s", i, info.ExecutionID, infos[0].ExecutionID)
			}
			switch info.Outcome {
			case app.DispatchCreated:
				created++
			case app.DispatchJoined:
			default:
				t.Errorf("dispatch %d outcome %q; want created or joined", i, info.Outcome)
			}
		}
		if created != 1 {
			t.Fatalf("%d dispatches created an execution; want exactly 1", created)
		}
		id := infos[0].ExecutionID
		close(release)
		if _, err := await(h, job, id); err != nil {
			t.Fatal(err)
		}
		count := 0
		runs.Range(func(any, any) bool { count++; return true })
		if count != 1 {
			t.Errorf("%d executions ran; want 1", count)
		}
		var next app.DispatchInfo
		again := dispatch(h, job, 99, app.WithSingleton("nightly"), app.ReportDispatch(&next))
		if again == id || next.Outcome != app.DispatchCreated {
			t.Fatalf("a dispatch after the singleton finished: %s %q; want a new execution", again, next.Outcome)
		}
		if got, err := await(h, job, again); err != nil || got != 99 {
			t.Fatalf("the second run = %v, %v", got, err)
		}
	})

	t.Run("a debounced run starts after the last dispatch with the last input", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		echo := app.Register(h.reg, "debounce.echo", func(_ context.Context, n int) (int, error) { return n, nil })
		h.worker(app.WorkerOptions{})
		const window = 400 * time.Millisecond
		var infos [3]app.DispatchInfo
		var last time.Time
		for i := range infos {
			if i > 0 {
				time.Sleep(window / 4)
			}
			last = time.Now()
			dispatch(h, echo, i+1, app.WithDebounce("user-7", window), app.ReportDispatch(&infos[i]))
		}
		want := []app.DispatchOutcome{app.DispatchCreated, app.DispatchDebounced, app.DispatchDebounced}
		for i, info := range infos {
			if info.Outcome != want[i] || info.ExecutionID != infos[0].ExecutionID {
				t.Fatalf("dispatch %d: %+v; want %s of %s", i, info, want[i], infos[0].ExecutionID)
			}
		}
		got, err := await(h, echo, infos[0].ExecutionID)
		if err != nil || got != 3 {
			t.Fatalf("result %v, %v; want the last input 3", got, err)
		}
		v, err := h.engine().StateOf(h.ctx(), infos[0].ExecutionID)
		if err != nil || v.StartedAt == nil {
			t.Fatalf("state %+v %v", v, err)
		}
		if early := last.Add(window - 5*time.Millisecond); v.StartedAt.Before(early) {
			t.Errorf("started at %s; want no earlier than %s (the last dispatch + the window)", v.StartedAt, early)
		}
		var after app.DispatchInfo
		dispatch(h, echo, 4, app.WithDebounce("user-7", window), app.ReportDispatch(&after))
		if after.Outcome != app.DispatchCreated || after.ExecutionID == infos[0].ExecutionID {
			t.Fatalf("a dispatch after the run started: %+v; want a new execution", after)
		}
	})

	t.Run("bad singleton and debounce options are refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		echo := app.Register(h.reg, "debounce.bad", func(_ context.Context, n int) (int, error) { return n, nil })
		eng := h.engine()
		for name, opts := range map[string][]app.DispatchOption{
			"an empty singleton key": {app.WithSingleton("")},
			"an empty debounce key":  {app.WithDebounce("", time.Second)},
			"a zero debounce window": {app.WithDebounce("k", 0)},
			"both keys":              {app.WithSingleton("a"), app.WithDebounce("b", time.Second)},
			"debounce with a delay":  {app.WithDebounce("k", time.Second), app.WithDelay(time.Minute)},
		} {
			if _, err := echo.Dispatch(h.ctx(), eng, 1, opts...); !errors.Is(err, app.ErrInvalidArgument) {
				t.Errorf("%s: %v; want ErrInvalidArgument", name, err)
			}
		}
	})
}
