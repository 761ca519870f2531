package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/examples"
	"github.com/stenthq/stent/stentfx"
)

// logWatch is a log sink tests can wait on: Seen(s) is closed once a line
// containing s has been written.
type logWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiters map[string]chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{waiters: map[string]chan struct{}{}} }

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	l.check()
	return n, err
}

func (l *logWatch) check() {
	for s, ch := range l.waiters {
		if strings.Contains(l.buf.String(), s) {
			close(ch)
			delete(l.waiters, s)
		}
	}
}

// Seen returns a channel closed once s appears in the log.
func (l *logWatch) Seen(s string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.waiters[s] = ch
	l.check()
	return ch
}

func (l *logWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func testEnv(t *testing.T, extra map[string]string) func(string) string {
	kv := map[string]string{
		"STENT_DB": filepath.Join(t.TempDir(), "stentd.sqlite"), "STENT_HTTP_ADDR": "127.0.0.1:0",
		"STENT_LOG_FORMAT": "text", "STENT_LOG_LEVEL": "debug",
	}
	for k, v := range extra {
		kv[k] = v
	}
	return func(k string) string { return kv[k] }
}

func waitOrFail(t *testing.T, ch <-chan struct{}, what string, logs *logWatch) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("gave up waiting for %s; log:\n%s", what, logs.String())
	}
}

func TestBadSettingsExitTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "a bad duration in the environment", env: map[string]string{"STENT_LEASE": "10x"}, want: []string{"STENT_LEASE", `"10x"`, "unknown unit"}},
		{name: "a bad flag value", args: []string{"--max-concurrency=-1"}, want: []string{"--max-concurrency", `"-1"`}},
		{name: "an unknown flag", args: []string{"--bogus"}, want: []string{"bogus"}},
		{name: "a DSN of another scheme, password masked", env: map[string]string{"STENT_DB": "mysql://u:s3cret@h/db"}, want: []string{"STENT_DB", "mysql"}},
		{name: "a park delay in Go's grammar", env: map[string]string{"STENT_PARK_AFTER": "250ms"}, want: []string{"STENT_PARK_AFTER", `"250ms"`}},
		{name: "a dead-after within the liveness interval", env: map[string]string{"STENT_LIVENESS_INTERVAL": "5s", "STENT_DEAD_AFTER": "5s"},
			want: []string{"STENT_DEAD_AFTER", `"5s"`, "STENT_LIVENESS_INTERVAL"}},
		{name: "a bad liveness interval flag", args: []string{"--liveness-interval=soon"}, want: []string{"--liveness-interval", `"soon"`}},
		{name: "a malformed PostgreSQL URL, password masked", env: map[string]string{"STENT_DB": "postgres://u:s3cret@127.0.0.1:notaport/db"},
			want: []string{"STENT_DB", "malformed PostgreSQL DSN", "invalid port", "u:xxxxx@"}},
		{name: "a malformed key=value DSN, password masked", env: map[string]string{"STENT_DB": "host=127.0.0.1 port=notaport user=u password='s3cret pw' dbname=x"},
			want: []string{"STENT_DB", "malformed PostgreSQL DSN", "invalid port", "password=xxxxx"}},
		{name: "listening beyond loopback without a token", env: map[string]string{"STENT_HTTP_ADDR": "0.0.0.0:8080"},
			want: []string{"STENT_HTTP_ADDR", "STENT_HTTP_TOKEN", "STENT_INSECURE_NO_AUTH"}},
		{name: "a bad CORS origin", args: []string{"--cors-origins=console.example.com"}, want: []string{"--cors-origins", "scheme://host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			code := run(tt.args, testEnv(t, tt.env), &stderr, nil)
			if code != 2 {
				t.Fatalf("exit %d; want 2; stderr %s", code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), "s3cret") || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("want one line without secrets; got %q", stderr.String())
			}
		})
	}
}

func TestHelpListsTheSettings(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run([]string{"--help"}, testEnv(t, nil), &stderr, nil); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "STENT_HTTP_TOKEN") || !strings.Contains(stderr.String(), "--shutdown-timeout") ||
		!strings.Contains(stderr.String(), "STENT_PARK_AFTER (default 0.25s)") || !strings.Contains(stderr.String(), "--worker-name, STENT_WORKER_NAME") {
		t.Fatalf("usage: %s", stderr.String())
	}
}

func TestExamplesAreRegisteredUnlessTurnedOff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  string
		want int
	}{{"", len(examplesNames(t))}, {"false", 0}} {
		cfg, err := stentfx.LoadConfig(nil, testEnv(t, map[string]string{"STENT_EXAMPLES": tt.env}))
		if err != nil {
			t.Fatal(err)
		}
		var reg *app.Registry
		fxApp := fx.New(stentfx.Module, examplesModule, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&reg))
		if err := fxApp.Err(); err != nil {
			t.Fatal(err)
		}
		if got := len(reg.Names()); got != tt.want {
			t.Errorf("STENT_EXAMPLES=%q: %d functions registered; want %d", tt.env, got, tt.want)
		}
	}
}

func examplesNames(t *testing.T) []string {
	reg := app.NewRegistry()
	examples.Register(reg)
	if len(reg.Names()) == 0 {
		t.Fatal("the examples register nothing")
	}
	return reg.Names()
}

// started runs stentd in the background and waits until it serves: it
// returns the HTTP base URL, the engine and the exit code channel.
func started(t *testing.T, env func(string) string, sigs chan os.Signal, logs *logWatch, extra ...fx.Option) (string, *app.Engine, <-chan int) {
	t.Helper()
	var (
		srv *httpapi.Server
		eng *app.Engine
	)
	ready := logs.Seen("worker ready")
	listening := logs.Seen("http server listening")
	codes := make(chan int, 1)
	go func() { codes <- run(nil, env, logs, sigs, append(extra, fx.Populate(&srv, &eng))...) }()
	select {
	case <-ready:
	case code := <-codes:
		t.Fatalf("stentd exited with %d before it was ready; log:\n%s", code, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("stentd did not get ready; log:\n%s", logs.String())
	}
	waitOrFail(t, listening, "the HTTP listener", logs)
	return "http://" + srv.Addr(), eng, codes
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	sigs := make(chan os.Signal, 2)
	base, eng, codes := started(t, testEnv(t, nil), sigs, logs)

	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz %d", resp.StatusCode)
	}
	in, _ := json.Marshal(examples.Order{ID: "o1", Item: "lamp", Quantity: 1, Amount: 30, Address: "home"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := eng.DispatchByName(ctx, "orders.place_order", in)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := eng.WaitFor(ctx, id); err != nil || !res.OK() {
		t.Fatalf("result %+v %v", res, err)
	}
	sigs <- syscall.SIGTERM
	if code := <-codes; code != 0 {
		t.Fatalf("exit %d after SIGTERM; want 0; log:\n%s", code, logs.String())
	}
	out := logs.String()
	for _, want := range []string{"signal received; shutting down", "draining workers", "store closed", "msg=stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

func TestASecondSignalExitsOne(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	sigs := make(chan os.Signal, 2)
	running := make(chan struct{}, 1)
	release := make(chan struct{})
	block := stentfx.Functions(func(reg *app.Registry) {
		app.Register(reg, "test.block", func(ctx context.Context, _ json.RawMessage) (string, error) {
			running <- struct{}{}
			<-release
			return "done", nil
		})
	})
	_, eng, codes := started(t, testEnv(t, map[string]string{"STENT_SHUTDOWN_TIMEOUT": "5m"}), sigs, logs, block)
	// Once run has returned, let the task finish so the abandoned
	// shutdown completes and closes the store before the test ends.
	stopped := logs.Seen("store closed")
	t.Cleanup(func() { waitOrFail(t, stopped, "the abandoned shutdown to end", logs) })
	defer close(release)

	if _, err := eng.DispatchByName(context.Background(), "test.block", nil); err != nil {
		t.Fatal(err)
	}
	<-running
	draining := logs.Seen("draining workers")
	sigs <- syscall.SIGTERM
	waitOrFail(t, draining, "the drain to start", logs)
	sigs <- syscall.SIGINT
	if code := <-codes; code != 1 {
		t.Fatalf("exit %d after a second signal; want 1; log:\n%s", code, logs.String())
	}
	if !strings.Contains(logs.String(), "second signal; exiting") {
		t.Errorf("the log does not say why it exited:\n%s", logs.String())
	}
}

func TestAStoreThatNeverAnswersExitsOne(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	env := testEnv(t, map[string]string{
		"STENT_DB":              "postgres://stent:s3cret@127.0.0.1:1/none?sslmode=disable&connect_timeout=1",
		"STENT_STARTUP_TIMEOUT": "1s",
	})
	if code := run(nil, env, logs, make(chan os.Signal)); code != 1 {
		t.Fatalf("exit %d; want 1; log:\n%s", code, logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, "store unavailable; giving up") {
		t.Errorf("the log does not say why:\n%s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the log leaks the database password:\n%s", out)
	}
}

func TestInsecureNoAuthStartsBeyondLoopbackWithAWarning(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	sigs := make(chan os.Signal, 2)
	_, _, codes := started(t, testEnv(t, map[string]string{"STENT_HTTP_ADDR": "0.0.0.0:0", "STENT_INSECURE_NO_AUTH": "true"}), sigs, logs)
	sigs <- syscall.SIGTERM
	if code := <-codes; code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, logs.String())
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, "WITHOUT authentication")
	}
	if !warned {
		t.Fatalf("no WARN line about the missing authentication:\n%s", logs.String())
	}
}

func TestVersionPrintsTheStampedVersion(t *testing.T) {
	old := version
	version = "v9.8.7"
	t.Cleanup(func() { version = old })
	var stderr bytes.Buffer
	if code := run([]string{"--version"}, testEnv(t, nil), &stderr, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := strings.TrimSpace(stderr.String()); got != "stentd v9.8.7" {
		t.Errorf("stentd --version printed %q; want %q", got, "stentd v9.8.7")
	}
}
