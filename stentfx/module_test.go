package stentfx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/stentfx"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testConfig(t *testing.T) stentfx.Config {
	cfg := stentfx.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "fx.sqlite")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogFormat = "text"
	cfg.LogLevel = -4 // debug: fx's own events too
	return cfg
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestModuleStartsServesAndStopsCleanly(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 200 * time.Millisecond
	var logs syncBuffer
	started := make(chan string, 1)
	var (
		srv   *httpapi.Server
		eng   *app.Engine
		store ports.Store
	)
	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: &logs}),
		stentfx.Functions(func(reg *app.Registry) {
			app.Register(reg, "fx.block", func(ctx context.Context, _ json.RawMessage) (string, error) {
				tc, _ := app.CurrentTask(ctx)
				started <- tc.ExecutionID
				<-ctx.Done()
				return "", context.Cause(ctx)
			})
		}),
		fx.Populate(&srv, &eng, &store))
	fxApp.RequireStart()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.WaitUntilReady(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"state":"ready"`) {
		t.Fatalf("/readyz %d %s", code, body)
	}
	id, err := eng.DispatchByName(ctx, "fx.block", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-started; got != id {
		t.Fatalf("ran %s; dispatched %s", got, id)
	}

	fxApp.RequireStop()
	if err := store.Ping(ctx); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("after stop the store answers %v; want ErrClosed", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the HTTP server still answers after stop")
	}
	// The drain deadline released the running task for another worker,
	// with its attempt given back.
	st, err := storeurl.Open(ctx, cfg.DB, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex, err := st.GetExecution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	root, err := st.GetTask(ctx, ex.RootTaskID)
	if err != nil {
		t.Fatal(err)
	}
	if root.State != domain.TaskPending || root.Attempt != 0 || root.WorkerID != "" {
		t.Fatalf("root task after the drain: state %s, attempt %d, worker %q; want pending, 0, none", root.State, root.Attempt, root.WorkerID)
	}
	out := logs.String()
	for _, want := range []string{"store connected", "worker ready", "draining workers", "OnStop hook executed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	// Stop order: HTTP, workers, engine, the SQLite wake-up listener,
	// notifier, store (fx logs each stop hook with the constructor that
	// added it).
	var stops []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="OnStop hook executed"`) {
			_, caller, _ := strings.Cut(line, "caller=github.com/stenthq/stent/stentfx.")
			if f := strings.Fields(caller); len(f) > 0 {
				stops = append(stops, f[0])
			}
		}
	}
	want := []string{"provideServer", "provideWorkers", "provideEngine", "decorateWake", "provideNotifier", "provideStore"}
	if strings.Join(stops, ",") != strings.Join(want, ",") {
		t.Fatalf("stop hooks ran as %v; want %v", stops, want)
	}
}

func TestModuleWithoutAWorkerServesTheAPI(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Worker = false
	var srv *httpapi.Server
	var ready *stentfx.StoreReady
	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&srv, &ready))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	<-ready.Done()
	base := "http://" + srv.Addr()
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"workers":[]`) {
		t.Fatalf("/readyz %d %s", code, body)
	}
	if code, body := get(t, base+"/v1/stats"); code != 200 {
		t.Fatalf("/v1/stats %d %s", code, body)
	}
}

func TestModuleGivesUpOnAnUnreachableStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.DB = "postgres://stent:s3cret@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"
	cfg.StartupTimeout = time.Second
	var logs syncBuffer
	var (
		srv  *httpapi.Server
		exit *stentfx.ExitRequest
	)
	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: &logs}), fx.Populate(&srv, &exit))
	fxApp.RequireStart()
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d while the store is down; want 200", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, `"status":"unavailable"`) {
		t.Fatalf("/readyz %d %s while the store is down; want 503", code, body)
	}
	if code, body := get(t, base+"/v1/stats"); code != 503 {
		t.Fatalf("/v1/stats %d %s while the store is down; want 503", code, body)
	}
	<-exit.Done()
	if exit.Code() != 1 {
		t.Fatalf("exit code %d; want 1", exit.Code())
	}
	fxApp.RequireStop()
	out := logs.String()
	if !strings.Contains(out, "store unreachable; retrying") || !strings.Contains(out, "store unavailable; giving up") {
		t.Errorf("the log does not tell the story:\n%s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the log leaks the database password:\n%s", out)
	}
}

func TestModuleTracesWhenATracerProviderIsSupplied(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var srv *httpapi.Server
	var eng *app.Engine
	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(testConfig(t)), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}),
		fx.Supply(fx.Annotate(tp, fx.As(new(trace.TracerProvider)))),
		stentfx.Functions(func(reg *app.Registry) {
			app.Register(reg, "tr.inc", func(_ context.Context, n int) (int, error) { return n + 1, nil })
		}),
		fx.Populate(&srv, &eng))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.WaitUntilReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The caller's trace context (W3C traceparent) becomes the parent of
	// the dispatch span.
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/v1/executions", strings.NewReader(`{"function":"tr.inc","input":1}`))
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created httpapi.DispatchResponse
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("dispatch %d", resp.StatusCode)
	}
	if res, err := eng.WaitFor(ctx, created.ExecutionID); err != nil || string(res.Value) != "2" {
		t.Fatalf("result %s %v", res.Value, err)
	}
	var dispatch, execute sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "stent.dispatch tr.inc":
			dispatch = s
		case "stent.execute tr.inc":
			execute = s
		}
	}
	if dispatch == nil || execute == nil {
		t.Fatalf("spans recorded: %d; want a dispatch and an execute span", len(rec.Ended()))
	}
	if dispatch.SpanContext().TraceID().String() != callerTrace || dispatch.Parent().SpanID().String() != callerSpan {
		t.Errorf("dispatch span in trace %s under %s; want the caller's %s/%s",
			dispatch.SpanContext().TraceID(), dispatch.Parent().SpanID(), callerTrace, callerSpan)
	}
	if execute.Parent().SpanID() != dispatch.SpanContext().SpanID() || execute.SpanContext().TraceID() != dispatch.SpanContext().TraceID() {
		t.Errorf("execute span's parent %v; want the dispatch span %v", execute.Parent(), dispatch.SpanContext())
	}
}
