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

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

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
		srv   *stentfx.Server
		eng   *app.Engine
		store *stentfx.DeferredStore
	)
	fxApp := fxtest.New(t, stentfx.Module, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: &logs}),
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
	st, err := stentfx.OpenStore(ctx, cfg.DB, stentfx.StoreOptions{})
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
	// Stop order: HTTP, workers, engine, notifier, store (fx logs each
	// stop hook with the constructor that added it).
	var stops []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="OnStop hook executed"`) {
			_, caller, _ := strings.Cut(line, "caller=github.com/stenthq/stent/stentfx.")
			if f := strings.Fields(caller); len(f) > 0 {
				stops = append(stops, f[0])
			}
		}
	}
	want := []string{"provideServer", "provideWorkers", "provideEngine", "provideNotifier", "provideStore"}
	if strings.Join(stops, ",") != strings.Join(want, ",") {
		t.Fatalf("stop hooks ran as %v; want %v", stops, want)
	}
}

func TestModuleWithoutAWorkerServesTheAPI(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Worker = false
	var srv *stentfx.Server
	var store ports.Store
	fxApp := fxtest.New(t, stentfx.Module, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&srv, &store))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	<-store.(*stentfx.DeferredStore).Connected()
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
		srv  *stentfx.Server
		exit *stentfx.ExitRequest
	)
	fxApp := fxtest.New(t, stentfx.Module, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: &logs}), fx.Populate(&srv, &exit))
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
