package sqlitestore_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

func TestOpenRejectsBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name   string
		cfg    sqlitestore.Config
		want   error
		naming string
	}{
		{"an empty path is invalid", sqlitestore.Config{}, domain.ErrInvalidArgument, "Path is empty"},
		{"an unknown synchronous mode is invalid and named", sqlitestore.Config{Path: filepath.Join(dir, "a.db"), Synchronous: "OFF"},
			domain.ErrInvalidArgument, `"OFF"`},
		{"a negative busy timeout is invalid and named", sqlitestore.Config{Path: filepath.Join(dir, "b.db"), BusyTimeout: -time.Second},
			domain.ErrInvalidArgument, "-1s"},
		{"a negative page cache is invalid and named", sqlitestore.Config{Path: filepath.Join(dir, "e.db"), CacheMiB: -3},
			domain.ErrInvalidArgument, "cache of -3 MiB"},
		{"an in-memory database is refused", sqlitestore.Config{Path: ":memory:"}, domain.ErrInvalidArgument, ":memory:"},
		{"a missing directory is named", sqlitestore.Config{Path: filepath.Join(dir, "nope", "c.db")},
			domain.ErrInvalidArgument, `directory "` + filepath.Join(dir, "nope") + `"`},
		{"a read-only open of a missing file says it is not found", sqlitestore.Config{Path: filepath.Join(dir, "d.db"), ReadOnly: true},
			domain.ErrNotFound, `database "` + filepath.Join(dir, "d.db") + `" not found`},
		{"a directory is not a database", sqlitestore.Config{Path: dir}, domain.ErrInvalidArgument, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlitestore.Open(t.Context(), c.cfg)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%+v) succeeded; want %v", c.cfg, c.want)
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.naming) {
				t.Fatalf("Open(%+v) = %v; want %v naming %s", c.cfg, err, c.want, c.naming)
			}
		})
	}
	for _, name := range []string{"a.db", "b.db", "d.db", "e.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bad config left %s behind (stat: %v)", name, err)
		}
	}
}

func TestOpenAcceptsFullSynchronous(t *testing.T) {
	t.Parallel()
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "s.db"), Synchronous: "full"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn  string
		want sqlitestore.Config
		bad  string
	}{
		{dsn: "sqlite:///var/lib/stent.db", want: sqlitestore.Config{Path: "/var/lib/stent.db"}},
		{dsn: "sqlite://stent.db", want: sqlitestore.Config{Path: "stent.db"}},
		{dsn: "sqlite:data/stent.db?mode=ro", want: sqlitestore.Config{Path: "data/stent.db", ReadOnly: true}},
		{dsn: "sqlite:///x.db?synchronous=FULL&busy_timeout=2s&auto_migrate=false&cache_mib=16",
			want: sqlitestore.Config{Path: "/x.db", Synchronous: "FULL", BusyTimeout: 2 * time.Second, NoAutoMigrate: true, CacheMiB: 16}},
		{dsn: "sqlite://x.db?cache_mib=lots", bad: `cache_mib="lots"`},
		{dsn: "postgres://h/db", bad: "does not start with sqlite://"},
		{dsn: "sqlite://", bad: "no database path"},
		{dsn: "sqlite://x.db?busy_timeout=soon", bad: `busy_timeout="soon"`},
		{dsn: "sqlite://x.db?cache=shared", bad: `unknown DSN option "cache"`},
	}
	for _, c := range cases {
		t.Run(c.dsn, func(t *testing.T) {
			t.Parallel()
			got, err := sqlitestore.ParseDSN(c.dsn)
			if c.bad != "" {
				if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), c.bad) {
					t.Fatalf("ParseDSN(%q) = %+v, %v; want ErrInvalidArgument naming %s", c.dsn, got, err, c.bad)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseDSN(%q) = %+v, %v; want %+v", c.dsn, got, err, c.want)
			}
		})
	}
}

func TestReadOnlyStoreReadsButNeverWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	now := time.Date(2025, 3, 9, 6, 59, 59, 999999000, time.UTC)
	exec, root := newExecution("e1", now)
	if _, _, err := ports.CreateExecution(t.Context(), rw, exec, root); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := rw.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	ro, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	got, err := ro.GetExecution(t.Context(), "e1")
	if err != nil || got.State != domain.ExecutionPending || !got.CreatedAt.Equal(now) {
		t.Fatalf("read-only GetExecution = %+v, %v", got, err)
	}
	exec2, root2 := newExecution("e2", now)
	if _, _, err := ports.CreateExecution(t.Context(), ro, exec2, root2); !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read-only CreateExecution = %v; want an ErrInvalidArgument saying read-only", err)
	}
	if err := ro.Migrate(t.Context()); !errors.Is(err, domain.ErrInvalidArgument) {
		t.Fatalf("read-only Migrate = %v; want ErrInvalidArgument", err)
	}
	if _, err := ro.GetExecution(t.Context(), "e2"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetExecution(e2) = %v; want ErrNotFound (nothing written)", err)
	}
}

func TestClosedStoreReturnsErrClosed(t *testing.T) {
	t.Parallel()
	s := teststore.SQLite(t)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	checks := map[string]error{}
	_, checks["GetExecution"] = s.GetExecution(t.Context(), "x")
	_, checks["ClaimTasks"] = s.ClaimTasks(t.Context(), ports.ClaimParams{WorkerID: "w", Functions: []string{"f"}, Limit: 1, Lease: time.Second})
	checks["Ping"] = s.Ping(t.Context())
	checks["Migrate"] = s.Migrate(t.Context())
	_, _, checks["SchemaVersion"] = s.SchemaVersion(t.Context())
	for name, err := range checks {
		if !errors.Is(err, domain.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
}

// TestTimesKeepMicrosecondsAcrossZones stores times given in a non-UTC
// zone, around a DST change, and reads them back in UTC to the microsecond.
func TestTimesKeepMicrosecondsAcrossZones(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	s := teststore.SQLite(t)
	// 2025-03-09 02:00 local is when New York skips an hour.
	base := time.Date(2025, 3, 9, 1, 59, 59, 999999999, ny)
	for i, at := range []time.Time{base, base.Add(time.Microsecond), base.Add(time.Hour)} {
		exec, root := newExecution("tz"+string(rune('a'+i)), at)
		if _, _, err := ports.CreateExecution(t.Context(), s, exec, root); err != nil {
			t.Fatalf("create: %v", err)
		}
		got, err := s.GetExecution(t.Context(), exec.ID)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		want := at.UTC().Truncate(time.Microsecond)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("created_at = %v; want %v in UTC", got.CreatedAt, want)
		}
	}
	list, err := s.ListExecutions(t.Context(), ports.ExecutionFilter{})
	if err != nil || len(list) != 3 || list[0].ID != "tzc" || list[1].ID != "tzb" || list[2].ID != "tza" {
		t.Fatalf("newest first = %v, %v; want tzc, tzb, tza", ids(list), err)
	}
}

func ids(es []domain.Execution) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// newExecution returns a minimal execution and root task created at now.
func newExecution(id string, now time.Time) (domain.Execution, domain.Task) {
	exec := domain.Execution{
		ID: id, RootFunction: "wf", RootTaskID: id + "-root", Queue: domain.DefaultQueue,
		Input: json.RawMessage(`{"n": 1}`), CreatedAt: now,
	}
	root := domain.Task{
		ID: id + "-root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "wf",
		Queue: domain.DefaultQueue, Input: exec.Input, CreatedAt: now,
	}
	return exec, root
}
