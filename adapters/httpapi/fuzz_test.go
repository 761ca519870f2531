package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/ports"
)

// fuzzTarget is the API over a real store, for FuzzAPI and the bad-input
// table below.
type fuzzTarget struct {
	name string
	h    *httpapi.Handler
	// execID is a pending execution and deadTaskID a dead letter, so ids
	// and filters also meet stored rows.
	execID, deadTaskID string
}

// fuzzTargets builds the API over a SQLite file and, when
// STENT_TEST_POSTGRES_DSN is set, over PostgreSQL (a fresh schema): the
// same requests must get the same classes of answer on both. No worker
// runs (nothing changes between requests but what they do), and the
// handler is drained so a long poll (?wait=) answers at once.
func fuzzTargets(tb testing.TB) []fuzzTarget {
	tb.Helper()
	ctx := context.Background()
	sqlite, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(tb.TempDir(), "fuzz.sqlite")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sqlite.Close() })
	targets := []fuzzTarget{newFuzzTarget(tb, "sqlite", sqlite)}
	// SQLite always; PostgreSQL too when the test server is configured
	// (and required under STENT_REQUIRE_SERVICES=1).
	if os.Getenv(testenv.PostgresEnv) == "" && os.Getenv(testenv.RequireEnv) != "1" {
		return targets
	}
	dsn, schema := testenv.PostgresSchema(tb, "stent_fuzz_")
	pg, err := pgxstore.Open(ctx, dsn, pgxstore.Config{Schema: schema})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = pg.Close() })
	return append(targets, newFuzzTarget(tb, "postgres", pg))
}

func newFuzzTarget(tb testing.TB, name string, st ports.Store) fuzzTarget {
	tb.Helper()
	ctx := context.Background()
	reg := app.NewRegistry()
	app.Register(reg, "fuzz.echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	n := app.NewLocalNotifier()
	eng, err := app.New(app.Deps{Store: st, Notifier: n, Registry: reg}, app.Config{MaxPayloadBytes: 4096})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close(); _ = n.Close() })
	execID, err := eng.DispatchByName(ctx, "fuzz.echo", json.RawMessage(`{"a":1}`))
	if err != nil {
		tb.Fatal(err)
	}
	// A dead letter: claim a root of a function nobody serves and fail it.
	if _, err := eng.DispatchByName(ctx, "fuzz.echo", json.RawMessage(`2`), app.WithQueue("doomed")); err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	claimed, err := st.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "fuzz", Queues: []string{"doomed"}, Functions: []string{"fuzz.echo"}, Limit: 1, Now: now, Lease: time.Minute})
	if err != nil || len(claimed) != 1 {
		tb.Fatalf("claim the doomed root: %v (%d claimed)", err, len(claimed))
	}
	if err := st.FailTask(ctx, ports.FailParams{Fence: claimed[0].Fence(), Error: &domain.TaskError{Code: "boom", Message: "boom"}, Reason: "fuzz", Now: now}); err != nil {
		tb.Fatal(err)
	}
	h := httpapi.New(eng, httpapi.Options{MaxBody: 8192})
	h.Drain()
	return fuzzTarget{name: name, h: h, execID: execID, deadTaskID: claimed[0].ID}
}

// serve parses raw as an HTTP/1.1 request the way net/http's server does
// (a request it cannot parse never reaches the handler) and serves it.
func (ft fuzzTarget) serve(tb testing.TB, method, target string, body []byte) (*httptest.ResponseRecorder, bool) {
	target = strings.NewReplacer("{exec}", ft.execID, "{task}", ft.deadTaskID).Replace(target)
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: stent\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, target, len(body))
	raw.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	ft.h.ServeHTTP(rec, req.WithContext(ctx))
	return rec, true
}

// fuzzSeeds are requests that once answered 500 on PostgreSQL (NUL bytes
// and invalid UTF-8 in ids and filters, numbers beyond int4) and others
// around the edges of every route.
var fuzzSeeds = []struct {
	method, target, body string
}{
	{"GET", "/v1/executions/%00", ""},
	{"GET", "/v1/executions/%ff%fe", ""},
	{"GET", "/v1/executions/" + strings.Repeat("x", 300), ""},
	{"GET", "/v1/executions/{exec}", ""},
	{"GET", "/v1/executions/%00/result", ""},
	{"GET", "/v1/executions/{exec}/result?wait=30s", ""},
	{"GET", "/v1/executions/%c3%28/result?wait=1s", ""},
	{"GET", "/v1/executions?function=%00", ""},
	{"GET", "/v1/executions?queue=%ff&state=pending", ""},
	{"GET", "/v1/executions?state=%00", ""},
	{"GET", "/v1/executions?limit=99999999999999999999&offset=9223372036854775807", ""},
	{"GET", "/v1/executions?offset=2147483648", ""},
	{"GET", "/v1/dead-letters?function=%00&queue=%ff&execution_id=%00", ""},
	{"GET", "/v1/dead-letters/%00", ""},
	{"GET", "/v1/dead-letters/{task}", ""},
	{"DELETE", "/v1/dead-letters/%ff", ""},
	{"POST", "/v1/dead-letters/%00/replay", `{"queue":"q"}`},
	{"POST", "/v1/dead-letters/{task}/replay", `{"queue":"bad\u0000queue"}`},
	{"POST", "/v1/dead-letters/{task}/replay", "{\"queue\":\"\xff\"}"},
	{"POST", "/v1/dead-letters/replay-all?function=%00", `{}`},
	{"POST", "/v1/executions/%00/cancel", ""},
	{"POST", "/v1/executions/{exec}/signals/%00", `1`},
	{"POST", "/v1/executions/%ff/signals/go", `{"ok":true}`},
	{"POST", "/v1/executions/{exec}/signals/go", "\"\xff\""},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","priority":3000000000}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","priority":-2147483649}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","priority":1e400}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","input":"\u0000","queue":"q\u0000","tags":["\u0000"]}`},
	{"POST", "/v1/executions", "{\"function\":\"fuzz.echo\",\"input\":\"\xff\"}"},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","idempotency_key":"` + strings.Repeat("k", 2000) + `"}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","delay":"9999999999d","max_duration":"99999999999h"}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","run_at":"9999-12-31T23:59:59Z"}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","run_at":"0001-01-01T00:00:00Z","max_duration":"1s"}`},
	{"POST", "/v1/executions", `{"function":"\u0000"}`},
	{"POST", "/v1/executions", `{"function":`},
	{"POST", "/v1/executions", `[1,2,3]`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo"}{"function":"fuzz.echo"}`},
	{"POST", "/v1/executions", `{"function":"fuzz.echo","input":{"a":[1,{"b":null}]},"queue":"q","tags":["t"]}`},
	{"GET", "/v1/stats", ""},
	{"GET", "/v1/workers?state=%00", ""},
	{"GET", "/readyz", ""},
	{"PUT", "/v1/executions", ""},
	{"GET", "/v1/%00", ""},
}

// FuzzAPI sends arbitrary requests to the API over real stores: no
// request may panic or answer 5xx (but /readyz, which answers 503 while
// the handler drains), and every answer is JSON. `make fuzz-quick` runs
// it for FUZZTIME; plain `go test` runs the seeds.
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.target, []byte(s.body))
	}
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		for _, ft := range targets {
			rec, ok := ft.serve(t, method, target, body)
			if !ok {
				return // net/http would refuse the request before the handler
			}
			status := rec.Code
			if status >= 500 && !(status == http.StatusServiceUnavailable && strings.HasPrefix(target, "/readyz")) {
				t.Fatalf("%s: %q %q (body %q): status %d: %s", ft.name, method, target, body, status, rec.Body.String())
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: %q %q (body %q): status %d with a body that is not JSON: %q", ft.name, method, target, body, status, rec.Body.String())
			}
		}
	})
}

// Bad input answers 400 naming the field on every store, where PostgreSQL
// answered 500.
func TestBadInputIs400NamingTheFieldOnEveryStore(t *testing.T) {
	t.Parallel()
	for _, ft := range fuzzTargets(t) {
		for _, c := range []struct {
			method, target, body, field string
		}{
			{"GET", "/v1/executions/%00", "", "execution id"},
			{"GET", "/v1/executions/%ff", "", "execution id"},
			{"GET", "/v1/executions/" + strings.Repeat("x", 256), "", "execution id"},
			{"GET", "/v1/executions/%00/result", "", "execution id"},
			{"GET", "/v1/executions?function=%00", "", "function filter"},
			{"GET", "/v1/executions?queue=%ff", "", "queue filter"},
			{"GET", "/v1/executions?version=%00", "", "version filter"},
			{"GET", "/v1/dead-letters?function=%00", "", "step name filter"},
			{"GET", "/v1/dead-letters/%00", "", "task id"},
			{"DELETE", "/v1/dead-letters/%ff", "", "task id"},
			{"POST", "/v1/dead-letters/{task}/replay", `{"queue":"bad\u0000queue"}`, "queue"},
			{"POST", "/v1/executions/%00/cancel", "", "execution id"},
			{"POST", "/v1/executions/%ff/signals/go", `1`, "execution id"},
			{"POST", "/v1/executions/{exec}/signals/go", "\"\xff\"", "signal payload"},
			{"POST", "/v1/executions", `{"function":"fuzz.echo","priority":3000000000}`, "priority"},
			{"POST", "/v1/executions", "{\"function\":\"fuzz.echo\",\"input\":\"\xff\"}", "input"},
		} {
			rec, ok := ft.serve(t, c.method, c.target, []byte(c.body))
			if !ok {
				t.Fatalf("%s %s: not a valid request", c.method, c.target)
			}
			var body struct { // {error:{code,message}}
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || body.Error.Code != "invalid_argument" || !strings.Contains(body.Error.Message, c.field) {
				t.Errorf("%s: %s %.60s: %d %s; want 400 invalid_argument naming %q", ft.name, c.method, c.target, rec.Code, rec.Body.String(), c.field)
			}
		}
	}
}
