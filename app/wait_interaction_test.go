package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/ports/portsmock"
)

// These tests check how a wait talks to the Notifier (the calls
// themselves, hence the generated mocks): it subscribes to the topic of
// what it waits for, reads the store, then sleeps until an event or a poll
// tick; it closes every subscription it opened; when the notifier refuses,
// it polls and subscribes again at each tick. The poll interval is an
// hour where a test must be woken by an event, so only the event can end
// the wait in time.

// readsStore reports each GetExecution, after it returned, on reads.
type readsStore struct {
	ports.Store
	reads chan domain.ExecutionState
}

func (s readsStore) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	ex, err := s.Store.GetExecution(ctx, id)
	select {
	case s.reads <- ex.State:
	default: // nobody counts the reads
	}
	return ex, err
}

// waitSetup is an engine without workers on memstore with a mock
// notifier, and one dispatched execution of "wf".
type waitSetup struct {
	mem      *memstore.Store
	notifier *portsmock.MockNotifier
	eng      *app.Engine
	id       string
	reads    chan domain.ExecutionState
	// ctx bounds the test, so a wait that is never woken fails it
	// instead of hanging.
	ctx context.Context
}

func newWaitSetup(t *testing.T, poll time.Duration) *waitSetup {
	t.Helper()
	ctrl := gomock.NewController(t)
	w := &waitSetup{mem: memstore.New(), notifier: portsmock.NewMockNotifier(ctrl), reads: make(chan domain.ExecutionState, 16)}
	var cancel context.CancelFunc
	w.ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	t.Cleanup(func() { _ = w.mem.Close() })
	w.notifier.EXPECT().Publish(gomock.Any(), gomock.Any()).Return(nil).AnyTimes()
	w.notifier.EXPECT().Close().Return(nil).AnyTimes()
	reg := app.NewRegistry()
	app.Register(reg, "wf", func(_ context.Context, n int) (int, error) { return n, nil })
	eng, err := app.New(app.Deps{Store: readsStore{Store: w.mem, reads: w.reads}, Notifier: w.notifier, Registry: reg},
		app.Config{PollInterval: poll, PollIntervalMax: poll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	w.eng = eng
	if w.id, err = eng.DispatchByName(t.Context(), "wf", json.RawMessage("21")); err != nil {
		t.Fatal(err)
	}
	return w
}

// complete finishes the execution in the store, as a worker elsewhere
// would, with the result 42.
func (w *waitSetup) complete(t *testing.T) {
	t.Helper()
	now := time.Now()
	got, err := w.mem.ClaimTasks(context.Background(), ports.ClaimParams{WorkerID: "elsewhere", Functions: []string{"wf"}, Limit: 1, Now: now, Lease: time.Minute})
	if err != nil || len(got) != 1 {
		t.Errorf("claim: %v, %v", got, err)
		return
	}
	if err := ports.CompleteTask(context.Background(), w.mem, ports.CompleteParams{Fence: got[0].Fence(), Result: json.RawMessage("42"), Now: now}); err != nil {
		t.Errorf("complete: %v", err)
	}
}

// waitFor runs WaitFor in a goroutine; the channel gets its outcome.
func (w *waitSetup) waitFor(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() {
		res, err := w.eng.WaitFor(ctx, w.id)
		if err == nil && string(res.Value) != "42" {
			err = errors.New("result " + string(res.Value) + "; want 42")
		}
		done <- err
	}()
	return done
}

// nextRead returns the state the next GetExecution read.
func (w *waitSetup) nextRead(t *testing.T) domain.ExecutionState {
	t.Helper()
	select {
	case s := <-w.reads:
		return s
	case <-w.ctx.Done():
		t.Fatal("the wait never read the execution again")
		return ""
	}
}

func TestWaitForSubscribesReadsThenWakesOnTheExecutionsEvent(t *testing.T) {
	t.Parallel()
	w := newWaitSetup(t, time.Hour)
	events := make(chan domain.Event, 1)
	sub := portsmock.NewMockSubscription(gomock.NewController(t))
	sub.EXPECT().Events().Return((<-chan domain.Event)(events)).AnyTimes()
	sub.EXPECT().Close().Return(nil).Times(1)
	subscribed := make(chan struct{})
	w.notifier.EXPECT().Subscribe(gomock.Any(), domain.ExecutionTopic(w.id)).DoAndReturn(
		func(context.Context, ...domain.Topic) (ports.Subscription, error) {
			close(subscribed)
			return sub, nil
		}).Times(1)

	done := w.waitFor(w.ctx)
	// Subscribed before the one first read: from here on the subscription
	// carries every change, so completing now cannot be missed.
	<-subscribed
	if s := w.nextRead(t); s != domain.ExecutionPending {
		t.Fatalf("read after subscribing %s; want pending", s)
	}
	w.complete(t)
	events <- domain.Event{V: domain.EventVersion, Kind: domain.EventExecution, Topic: domain.ExecutionTopic(w.id), ID: w.id,
		State: string(domain.ExecutionCompleted), At: time.Now().UTC()}
	if s := w.nextRead(t); s != domain.ExecutionCompleted {
		t.Fatalf("read after the event %s; want completed", s)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitForTakesTheResultTheCompletionEventCarries(t *testing.T) {
	t.Parallel()
	w := newWaitSetup(t, time.Hour)
	events := make(chan domain.Event, 1)
	sub := portsmock.NewMockSubscription(gomock.NewController(t))
	sub.EXPECT().Events().Return((<-chan domain.Event)(events)).AnyTimes()
	sub.EXPECT().Close().Return(nil).Times(1)
	w.notifier.EXPECT().Subscribe(gomock.Any(), domain.ExecutionTopic(w.id)).Return(sub, nil).Times(1)

	done := w.waitFor(w.ctx)
	if s := w.nextRead(t); s != domain.ExecutionPending {
		t.Fatalf("read after subscribing %s; want pending", s)
	}
	w.complete(t)
	events <- domain.Event{V: domain.EventVersion, Kind: domain.EventExecution, Topic: domain.ExecutionTopic(w.id), ID: w.id,
		ExecutionID: w.id, State: string(domain.ExecutionCompleted), Result: "42", At: time.Now().UTC()}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(w.reads); n != 0 {
		t.Fatalf("the wait read the execution %d more times after an event carrying the result; want none", n)
	}
}

func TestWaitForPollsAndSubscribesAgainWhenTheNotifierRefuses(t *testing.T) {
	t.Parallel()
	w := newWaitSetup(t, 10*time.Millisecond)
	sub := portsmock.NewMockSubscription(gomock.NewController(t))
	sub.EXPECT().Events().Return(make(<-chan domain.Event)).AnyTimes()
	sub.EXPECT().Close().Return(nil).Times(1)
	gomock.InOrder(
		w.notifier.EXPECT().Subscribe(gomock.Any(), domain.ExecutionTopic(w.id)).Return(nil, errors.New("notifier down")),
		// At the next poll tick the wait subscribes again; the execution
		// completes meanwhile, and the poll that follows sees it.
		w.notifier.EXPECT().Subscribe(gomock.Any(), domain.ExecutionTopic(w.id)).DoAndReturn(
			func(context.Context, ...domain.Topic) (ports.Subscription, error) {
				w.complete(t)
				return sub, nil
			}),
	)
	if err := <-w.waitFor(w.ctx); err != nil {
		t.Fatal(err)
	}
}
