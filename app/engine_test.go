package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// silentNotifier accepts subscriptions and never delivers anything.
type silentNotifier struct{}

func (silentNotifier) Publish(context.Context, domain.Event) error { return nil }
func (silentNotifier) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return silentSub{make(chan domain.Event)}, nil
}
func (silentNotifier) Close() error { return nil }

type silentSub struct{ ch chan domain.Event }

func (s silentSub) Events() <-chan domain.Event { return s.ch }
func (s silentSub) Close() error                { return nil }

// brokenNotifier fails every call.
type brokenNotifier struct{}

func (brokenNotifier) Publish(context.Context, domain.Event) error { return errors.New("redis: down") }
func (brokenNotifier) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return nil, errors.New("redis: down")
}
func (brokenNotifier) Close() error { return nil }

func TestWaitExpiresTheSameWayWhateverTheNotifier(t *testing.T) {
	t.Parallel()
	for name, n := range map[string]ports.Notifier{"silent notifier": silentNotifier{}, "broken notifier": brokenNotifier{}, "no notifier": nil} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			reg := app.NewRegistry()
			fn := app.Register(reg, "f", func(context.Context, int) (int, error) { return 1, nil })
			eng, err := app.New(app.Deps{Store: st, Registry: reg, Notifier: n}, app.Config{PollInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			id, err := fn.Dispatch(context.Background(), eng, 1) // no worker: it never finishes
			if err != nil {
				t.Fatal(err)
			}
			_, err = eng.WaitFor(context.Background(), id, app.WithWaitTimeout(50*time.Millisecond))
			if !errors.Is(err, app.ErrExpired) || !strings.Contains(err.Error(), id) {
				t.Fatalf("error %v: want ErrExpired naming the id", err)
			}
			// With a worker, the same engine finishes the work by polling.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				_ = eng.Serve(ctx, app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
			}()
			got, err := fn.Await(context.Background(), eng, id, app.WithWaitTimeout(10*time.Second))
			if err != nil || got != 1 {
				t.Fatalf("%d %v", got, err)
			}
		})
	}
}

// panickyMetrics panics in every hook.
type panickyMetrics struct{}

func (panickyMetrics) TaskClaimed(app.TaskInfo)                             { panic("boom") }
func (panickyMetrics) TaskCompleted(app.TaskInfo, time.Duration)            { panic("boom") }
func (panickyMetrics) TaskFailed(app.TaskInfo, string, bool, time.Duration) { panic("boom") }
func (panickyMetrics) DeadLettered(app.TaskInfo, string)                    { panic("boom") }
func (panickyMetrics) TaskCancelled(app.TaskInfo)                           { panic("boom") }
func (panickyMetrics) ExecutionTimedOut(string)                             { panic("boom") }
func (panickyMetrics) LeaseRenewed(app.TaskInfo)                            { panic("boom") }

func TestAPanickingMetricsHookOrphansNothing(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	reg := app.NewRegistry()
	child := app.Register(reg, "child", func(_ context.Context, n int) (int, error) { return n, nil })
	fn := app.Register(reg, "parent", func(ctx context.Context, n int) (int, error) { return child.Call(ctx, n) })
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Metrics: panickyMetrics{}}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = eng.Serve(ctx, app.WorkerOptions{PollInterval: 10 * time.Millisecond}) }()
	id, err := fn.Dispatch(ctx, eng, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fn.Await(ctx, eng, id, app.WithWaitTimeout(10*time.Second)); err != nil || got != 4 {
		t.Fatalf("%d %v", got, err)
	}
}

func TestRegistrationOptionsAreValidated(t *testing.T) {
	t.Parallel()
	reg := app.NewRegistry()
	noop := func(context.Context, int) (int, error) { return 0, nil }
	app.Register(reg, "limit", noop, app.WithMaxConcurrent(-1))
	app.Register(reg, "cache", noop, app.WithCache(-time.Second))
	app.Register(reg, "keyfunc", noop, app.WithKeyFunc(func(s string) string { return s }))
	app.Register(reg, "stent.reserved", noop)
	app.Register(reg, "queue", noop, app.WithQueue(""))
	app.Register(reg, "version", noop, app.WithVersion("v\x01"))
	_, err := app.New(app.Deps{Store: memstore.New(), Registry: reg}, app.Config{})
	if !errors.Is(err, app.ErrInvalidArgument) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"max concurrent -1", "cache ttl -1s", "WithKeyFunc takes func(string) string, want func(int) string", `reserved prefix "stent."`, "queue is empty", `version "v\x01" contains the unprintable character`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should say %q", err, want)
		}
	}
	if _, err := app.New(app.Deps{Registry: reg}, app.Config{}); err == nil {
		t.Fatal("a nil store must be refused")
	}
}

func TestUseAfterCloseIsErrClosed(t *testing.T) {
	t.Parallel()
	reg := app.NewRegistry()
	fn := app.Register(reg, "f", func(context.Context, int) (int, error) { return 0, nil })
	eng, err := app.New(app.Deps{Store: memstore.New(), Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_ = eng.Close()
	_ = eng.Close()
	if _, err := fn.Dispatch(context.Background(), eng, 1); !errors.Is(err, app.ErrClosed) {
		t.Fatalf("dispatch after close: %v", err)
	}
	if err := eng.Serve(context.Background(), app.WorkerOptions{}); !errors.Is(err, app.ErrClosed) {
		t.Fatalf("serve after close: %v", err)
	}
}

// refailingStore is a memstore whose replayed tasks fail again at once:
// every ReplayDeadLetter is followed by a claim and a terminal failure,
// so the entry is back in the dead-letter list, as a task failing
// instantly would put it.
type refailingStore struct {
	ports.Store
	t       *testing.T
	replays int
}

func (s *refailingStore) ReplayDeadLetter(ctx context.Context, p ports.ReplayParams) (domain.Task, error) {
	s.replays++
	if s.replays > 10 {
		s.t.Error("ReplayAllDeadLetters keeps replaying: it replays the same task again and again")
		return domain.Task{}, errors.New("stop")
	}
	task, err := s.Store.ReplayDeadLetter(ctx, p)
	if err != nil {
		return task, err
	}
	failAt(s.t, s.Store, task.StepName, p.Now)
	return task, nil
}

// failAt claims the pending task of fn and fails it terminally.
func failAt(t *testing.T, st ports.Store, fn string, now time.Time) {
	t.Helper()
	got, err := st.ClaimTasks(context.Background(), ports.ClaimParams{WorkerID: "w", Functions: []string{fn}, Limit: 1, Now: now, Lease: time.Hour})
	if err != nil || len(got) != 1 {
		t.Fatalf("claim %s: %v, %v", fn, got, err)
	}
	if err := st.FailTask(context.Background(), ports.FailParams{Fence: got[0].Fence(),
		Error: &domain.TaskError{Type: "x", Code: "boom", Message: "boom"}, Now: now}); err != nil {
		t.Fatal(err)
	}
}

// Regression: a task that fails again at once is dead-lettered anew while
// ReplayAllDeadLetters pages on; it was replayed again, and again.
func TestReplayAllReplaysEachTaskOnce(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	store := &refailingStore{Store: mem, t: t}
	reg := app.NewRegistry()
	app.Register(reg, "flaky", func(_ context.Context, n int) (int, error) { return n, nil })
	eng, err := app.New(app.Deps{Store: store, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.DispatchByName(context.Background(), "flaky", []byte("1")); err != nil {
		t.Fatal(err)
	}
	failAt(t, mem, "flaky", time.Now())
	res, err := eng.ReplayAllDeadLetters(context.Background(), ports.DeadLetterFilter{})
	if err != nil || res.Replayed != 1 || res.Failed != 0 || store.replays != 1 {
		t.Fatalf("replay-all: %+v, %v after %d replays; want the task replayed once", res, err, store.replays)
	}
}
