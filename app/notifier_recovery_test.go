package app_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// flakyNotifier is a LocalNotifier that can be down (Subscribe fails with
// ErrUnavailable) and reports every subscription it grants.
type flakyNotifier struct {
	*app.LocalNotifier
	down       atomic.Bool
	subscribed chan []domain.Topic // granted subscriptions
	refused    chan []domain.Topic // subscriptions refused while down
}

func newFlakyNotifier() *flakyNotifier {
	return &flakyNotifier{LocalNotifier: app.NewLocalNotifier(),
		subscribed: make(chan []domain.Topic, 100), refused: make(chan []domain.Topic, 100)}
}

func (f *flakyNotifier) Subscribe(ctx context.Context, topics ...domain.Topic) (ports.Subscription, error) {
	if f.down.Load() {
		select {
		case f.refused <- topics:
		default:
		}
		return nil, app.ErrUnavailable
	}
	sub, err := f.LocalNotifier.Subscribe(ctx, topics...)
	if err == nil {
		select {
		case f.subscribed <- topics:
		default:
		}
	}
	return sub, err
}

// awaitSubscription waits until a subscription including topic is granted.
func (f *flakyNotifier) awaitSubscription(t *testing.T, topic domain.Topic) {
	t.Helper()
	awaitTopic(t, f.subscribed, topic)
}

// awaitRefusal waits until a subscription including topic is refused.
func (f *flakyNotifier) awaitRefusal(t *testing.T, topic domain.Topic) {
	t.Helper()
	awaitTopic(t, f.refused, topic)
}

func awaitTopic(t *testing.T, ch chan []domain.Topic, topic domain.Topic) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case topics := <-ch:
			if slices.Contains(topics, topic) {
				return
			}
		case <-timeout:
			t.Fatalf("no subscription to %s", topic)
		}
	}
}

func TestNotifierRecovery(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, n ports.Notifier, fn func(context.Context, int) (int, error)) (*app.Engine, *app.Function[int, int], context.Context) {
		st := memstore.New()
		t.Cleanup(func() { _ = st.Close() })
		reg := app.NewRegistry()
		f := app.Register(reg, "f", fn)
		eng, err := app.New(app.Deps{Store: st, Notifier: n, Registry: reg}, app.Config{PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return eng, f, ctx
	}
	startWorker := func(t *testing.T, ctx context.Context, eng *app.Engine) {
		w, err := eng.NewWorker(app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		wctx, stop := context.WithCancel(ctx)
		go func() { done <- w.Run(wctx) }()
		t.Cleanup(func() { stop(); <-done })
		<-w.Ready()
	}

	t.Run("a worker started while the notifier is down subscribes once it is back", func(t *testing.T) {
		t.Parallel()
		n := newFlakyNotifier()
		t.Cleanup(func() { _ = n.Close() })
		n.down.Store(true)
		eng, _, ctx := setup(t, n, func(context.Context, int) (int, error) { return 1, nil })
		startWorker(t, ctx, eng)
		n.awaitRefusal(t, domain.TopicReady)
		n.down.Store(false)
		n.awaitSubscription(t, domain.TopicReady)
	})

	t.Run("a wait begun while the notifier is down subscribes once it is back", func(t *testing.T) {
		t.Parallel()
		n := newFlakyNotifier()
		t.Cleanup(func() { _ = n.Close() })
		release := make(chan struct{})
		eng, f, ctx := setup(t, n, func(context.Context, int) (int, error) { <-release; return 1, nil })
		id, err := f.Dispatch(ctx, eng, 1)
		if err != nil {
			t.Fatal(err)
		}
		n.down.Store(true)
		done := make(chan error, 1)
		go func() { _, err := f.Await(ctx, eng, id); done <- err }()
		n.awaitRefusal(t, domain.ExecutionTopic(id))
		n.down.Store(false)
		n.awaitSubscription(t, domain.ExecutionTopic(id))
		startWorker(t, ctx, eng)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a wait that outlives its notifier returns normally", func(t *testing.T) {
		t.Parallel()
		n := newFlakyNotifier()
		release := make(chan struct{})
		eng, f, ctx := setup(t, n, func(context.Context, int) (int, error) { <-release; return 1, nil })
		startWorker(t, ctx, eng)
		id, err := f.Dispatch(ctx, eng, 1)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := f.Await(ctx, eng, id); done <- err }()
		n.awaitSubscription(t, domain.ExecutionTopic(id))
		_ = n.Close() // the wait's subscription channel closes under it
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
