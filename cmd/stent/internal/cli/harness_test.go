package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/cmd/stent/internal/cli"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

var update = flag.Bool("update", false, "rewrite the golden files from the SQLite run")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backend makes empty, migrated databases of one kind.
type backend struct {
	name string
	// newDB returns the DSN the CLI gets and a store on the same database
	// for seeding and checks (closed, and the database dropped, in
	// t.Cleanup).
	newDB func(t *testing.T) (dsn string, st ports.Store)
}

var sqliteBackend = backend{name: "sqlite", newDB: func(t *testing.T) (string, ports.Store) {
	t.Helper()
	st := teststore.SQLite(t)
	return st.Path(), st
}}

// postgresBackend gives every database its own schema, selected in the
// CLI's DSN by search_path (and a small pool via pool_max_conns). Without
// STENT_TEST_POSTGRES_DSN its tests skip, or fail under
// STENT_REQUIRE_SERVICES=1.
var postgresBackend = backend{name: "postgres", newDB: func(t *testing.T) (string, ports.Store) {
	t.Helper()
	base, schema := testenv.PostgresSchema(t, "stent_cli_")
	st, err := pgxstore.Open(context.Background(), testenv.WithParams(t, base, "pool_max_conns", "2"), pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return testenv.WithParams(t, base, "search_path", schema, "pool_max_conns", "2"), st
}}

// backends are the databases every golden test runs on.
var backends = []backend{sqliteBackend, postgresBackend}

// spy counts store opens and closes and records the list queries.
type spy struct {
	mu     sync.Mutex
	opens  int
	ok     int // opens that returned a store
	closes int
	lists  []string
}

func (s *spy) open(ctx context.Context, dsn string, o storeurl.Options) (storeurl.Store, error) {
	s.mu.Lock()
	s.opens++
	s.mu.Unlock()
	st, err := storeurl.Open(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.ok++
	s.mu.Unlock()
	return &spyStore{Store: st, spy: s}, nil
}

func (s *spy) record(call string) {
	s.mu.Lock()
	s.lists = append(s.lists, call)
	s.mu.Unlock()
}

type spyStore struct {
	storeurl.Store
	spy *spy
}

func (s *spyStore) Close() error {
	s.spy.mu.Lock()
	s.spy.closes++
	s.spy.mu.Unlock()
	return s.Store.Close()
}

func (s *spyStore) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
	s.spy.record(fmt.Sprintf("ListExecutions(limit=%d)", f.Limit))
	return s.Store.ListExecutions(ctx, f)
}

func (s *spyStore) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	s.spy.record(fmt.Sprintf("ListTasks(states=%v, kinds=%v, limit=%d)", f.States, f.Kinds, f.Limit))
	return s.Store.ListTasks(ctx, f)
}

func (s *spyStore) ListDeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	s.spy.record(fmt.Sprintf("ListDeadLetters(limit=%d)", f.Limit))
	return s.Store.ListDeadLetters(ctx, f)
}

func (s *spyStore) ListProgress(ctx context.Context, id string) ([]domain.ProgressEntry, error) {
	s.spy.record("ListProgress")
	return s.Store.ListProgress(ctx, id)
}

func (s *spyStore) ListFunctions(ctx context.Context) ([]domain.FunctionInfo, error) {
	s.spy.record("ListFunctions")
	return s.Store.ListFunctions(ctx)
}

// harness runs the CLI against one database.
type harness struct {
	dsn   string
	st    ports.Store
	clock ports.Clock
}

// newSeeded returns a harness on a fresh database holding the seed.
func newSeeded(t *testing.T, b backend) *harness {
	t.Helper()
	dsn, st := b.newDB(t)
	seed(t, st)
	return &harness{dsn: dsn, st: st, clock: clock.NewFake(cliNow)}
}

// call is one CLI invocation.
type call struct {
	args      []string
	stdin     string    // what stdin holds
	in        io.Reader // stdin as a stream instead (e.g. a pipe)
	env       map[string]string
	stdinTTY  bool
	stdoutTTY bool
	noDB      bool // do not pass --db
	ctx       context.Context
	stdout    io.Writer     // extra sink for stdout (sees every write)
	stderr    io.Writer     // extra sink for stderr
	reg       *app.Registry // the functions `stent replay` may run
}

// result is what a run printed and returned, and what the spy saw.
type result struct {
	code           int
	stdout, stderr string
	spy            *spy
}

func (h *harness) run(t *testing.T, args ...string) result {
	t.Helper()
	return h.exec(t, call{args: args})
}

// exec runs c and checks the store lifecycle: at most one open, and every
// opened store closed.
func (h *harness) exec(t *testing.T, c call) result {
	t.Helper()
	var out, errb bytes.Buffer
	sp := &spy{}
	args := c.args
	if !c.noDB {
		args = append([]string{"--db", h.dsn}, args...)
	}
	stdin := c.in
	if stdin == nil {
		stdin = strings.NewReader(c.stdin)
	}
	var stdout io.Writer = &out
	if c.stdout != nil {
		stdout = io.MultiWriter(&out, c.stdout)
	}
	var stderr io.Writer = &errb
	if c.stderr != nil {
		stderr = io.MultiWriter(&errb, c.stderr)
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := cli.Main(ctx, cli.Env{
		Args: args, Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Getenv:     func(k string) string { return c.env[k] },
		StdinIsTTY: c.stdinTTY, StdoutIsTTY: c.stdoutTTY,
		Clock: h.clock, OpenStore: sp.open, Version: "test", Registry: c.reg,
	})
	if sp.opens > 1 {
		t.Errorf("%v: opened the store %d times; want at most once", c.args, sp.opens)
	}
	if sp.closes != sp.ok {
		t.Errorf("%v: %d stores opened, %d closed", c.args, sp.ok, sp.closes)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String(), spy: sp}
}

var v4 = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// normalise makes output comparable across runs and backends: the DSN
// becomes <db>, generated (v4 and time-ordered v7) UUIDs become numbered
// fixed-width ids in order
// of appearance, and the Go version goX.
func (h *harness) normalise(s string) string {
	s = strings.ReplaceAll(s, storeurl.Mask(h.dsn), "<db>")
	s = strings.ReplaceAll(s, h.dsn, "<db>")
	ids := map[string]string{}
	s = v4.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("00000000-0000-4000-8000-%012d", len(ids)+1)
		}
		return ids[id]
	})
	return regexp.MustCompile(`go1\.[0-9.]+`).ReplaceAllString(s, "goX")
}

// render is a result as a golden file (not yet normalised).
func render(r result) string {
	return fmt.Sprintf("%s--- stderr ---\n%s--- exit %d ---\n", r.stdout, r.stderr, r.code)
}

// checkGolden compares got with testdata/golden/name.txt; with -update the
// SQLite run rewrites it.
func checkGolden(t *testing.T, b backend, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update && b.name == "sqlite" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got ---\n%s--- want ---\n%s", b.name, path, got, want)
	}
}
