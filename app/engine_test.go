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
	"github.com/stenthq/stent/ports/portsmock"
	"go.uber.org/mock/gomock"
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
	_, err := app.New(app.Deps{Store: memstore.New(), Registry: reg}, app.Config{})
	if !errors.Is(err, app.ErrInvalidArgument) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"max concurrent -1", "cache ttl -1s", "WithKeyFunc takes func(string) string, want func(int) string", `reserved prefix "stent."`, "queue is empty"} {
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

// Regression: a task that fails again at once is dead-lettered anew while
// ReplayAllDeadLetters pages on; it was replayed again, and again. The
// mock store lists the same entry after every replay, as a task failing
// instantly would.
func TestReplayAllReplaysEachTaskOnce(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	store := portsmock.NewMockStore(ctrl)
	entry := domain.DeadLetter{TaskID: "t1", ExecutionID: "e1"}
	lists := 0
	store.EXPECT().ListDeadLetters(gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
			lists++
			if lists > 10 {
				t.Fatal("ReplayAllDeadLetters keeps listing: it replays the same task again and again")
			}
			if f.Offset > 0 {
				return nil, nil
			}
			return []domain.DeadLetter{entry}, nil // back in the queue after each replay
		}).AnyTimes()
	store.EXPECT().ReplayDeadLetter(gomock.Any(), gomock.Any()).Return(domain.Task{ID: "t1", ExecutionID: "e1"}, nil).Times(1)
	eng, err := app.New(app.Deps{Store: store, Registry: app.NewRegistry()}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	res, err := eng.ReplayAllDeadLetters(context.Background(), ports.DeadLetterFilter{})
	if err != nil || res.Replayed != 1 || res.Failed != 0 {
		t.Fatalf("replay-all: %+v, %v; want the task replayed once", res, err)
	}
}
