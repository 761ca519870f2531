package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// tracedProcess is one "process": its own registry, engine, worker and
// tracer provider, sharing only the store and the notifier with the others.
type tracedProcess struct {
	eng      *app.Engine
	recorder *tracetest.SpanRecorder
	parent   *app.Function[int, int]
}

// registerTraced registers a parent that calls child twice (the second
// call fails once and is retried).
func registerTraced(reg *app.Registry, failOnce chan struct{}) *app.Function[int, int] {
	child := app.Register(reg, "trace.child", func(ctx context.Context, n int) (int, error) {
		if n == 2 {
			select {
			case <-failOnce:
				return 0, errors.New("flaky once")
			default:
			}
		}
		return n * 10, nil
	}, app.WithRetry(retryFast))
	return app.Register(reg, "trace.parent", func(ctx context.Context, n int) (int, error) {
		a, err := child.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		b, err := child.Call(ctx, n+1)
		return a + b, err
	})
}

func newTracedProcess(t *testing.T, st ports.Store, n ports.Notifier, functions []string, failOnce chan struct{}) *tracedProcess {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reg := app.NewRegistry()
	p := &tracedProcess{recorder: rec, parent: registerTraced(reg, failOnce)}
	eng, err := app.New(app.Deps{Store: st, Notifier: n, Registry: reg, TracerProvider: tp},
		app.Config{PollInterval: 10 * time.Millisecond, PollIntervalMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.eng = eng
	if functions != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = eng.Serve(ctx, app.WorkerOptions{Functions: functions, PollInterval: 10 * time.Millisecond, PollIntervalMax: 100 * time.Millisecond})
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	t.Cleanup(func() { _ = eng.Close() })
	return p
}

var retryFast = domain.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}

func TestTracingLinksAWorkflowAcrossProcesses(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	n := app.NewLocalNotifier()
	t.Cleanup(func() { _ = n.Close() })
	failOnce := make(chan struct{}, 1)
	failOnce <- struct{}{}
	client := newTracedProcess(t, st, n, nil, failOnce)
	parents := newTracedProcess(t, st, n, []string{"trace.parent"}, failOnce)
	children := newTracedProcess(t, st, n, []string{"trace.child"}, failOnce)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := client.parent.Dispatch(ctx, client.eng, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.parent.Await(ctx, client.eng, id)
	if err != nil || got != 30 {
		t.Fatalf("result %d, %v; want 30", got, err)
	}

	dispatch := onlySpan(t, client.recorder, "stent.dispatch trace.parent")
	if dispatch.Parent().IsValid() {
		t.Errorf("the dispatch span has a parent %v; want a root span", dispatch.Parent())
	}
	if dispatch.SpanKind() != trace.SpanKindProducer {
		t.Errorf("dispatch span kind %v; want producer", dispatch.SpanKind())
	}
	wantAttr(t, dispatch, "stent.execution_id", id)
	traceID := dispatch.SpanContext().TraceID()

	parent := onlySpan(t, parents.recorder, "stent.execute trace.parent")
	if parent.SpanContext().TraceID() != traceID || parent.Parent().SpanID() != dispatch.SpanContext().SpanID() {
		t.Errorf("the parent's run is not a child of the dispatch span: parent link %v, dispatch %v", parent.Parent(), dispatch.SpanContext())
	}
	if !parent.Parent().IsRemote() {
		t.Error("the parent's run should name its parent span as remote (read back from the store)")
	}
	wantAttr(t, parent, "stent.execution_id", id)
	wantAttr(t, parent, "stent.task.kind", "orchestrator")

	runs := ended(children.recorder, "stent.execute trace.child")
	if len(runs) != 3 { // child(1), child(2) failing once, child(2) again
		t.Fatalf("%d child runs recorded; want 3", len(runs))
	}
	failed := 0
	for _, s := range runs {
		if s.SpanContext().TraceID() != traceID {
			t.Errorf("child run in trace %v; want %v", s.SpanContext().TraceID(), traceID)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("child run's parent is %v; want the parent's run %v", s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
		if s.Status().Code.String() == "Error" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d child runs marked as errors; want 1 (the flaky attempt)", failed)
	}
	if others := ended(client.recorder, "stent.execute trace.parent"); len(others) != 0 {
		t.Errorf("the client, which runs no worker, recorded %d task runs", len(others))
	}
}

func TestTracingRunsInlineStepsUnderTheirParent(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	p := newTracedProcess(t, st, nil, []string{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := p.parent.Dispatch(ctx, p.eng, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.parent.Await(ctx, p.eng, id); err != nil || got != 30 {
		t.Fatalf("result %d, %v; want 30", got, err)
	}
	parent := onlySpan(t, p.recorder, "stent.execute trace.parent")
	children := ended(p.recorder, "stent.execute trace.child")
	if len(children) != 2 {
		t.Fatalf("%d child runs; want 2", len(children))
	}
	for _, c := range children {
		if c.Parent().SpanID() != parent.SpanContext().SpanID() || c.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("inline child run's parent is %v; want %v", c.Parent(), parent.SpanContext())
		}
	}
}

func TestTracingIsOffWithoutATracerProvider(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	reg := app.NewRegistry()
	parent := registerTraced(reg, nil)
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	id, err := parent.Dispatch(context.Background(), eng, 1)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := st.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	root, err := st.GetTask(context.Background(), ex.RootTaskID)
	if err != nil {
		t.Fatal(err)
	}
	if root.TraceContext != nil {
		t.Fatalf("root task carries trace context %v with tracing off", root.TraceContext)
	}
}

func ended(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func onlySpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := ended(rec, name)
	if len(spans) != 1 {
		t.Fatalf("%d spans named %q; want 1", len(spans), name)
	}
	return spans[0]
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key, want string) {
	t.Helper()
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			if got := kv.Value.String(); got != want {
				t.Errorf("span %q: %s = %q; want %q", s.Name(), key, got, want)
			}
			return
		}
	}
	t.Errorf("span %q has no attribute %s", s.Name(), key)
}
