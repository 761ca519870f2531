package sqlitestore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// rawDB opens the file with the plain driver, to inspect or tamper with it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func migrationRows(t *testing.T, path string) map[int]int {
	t.Helper()
	rows, err := rawDB(t, path).Query(`SELECT version, COUNT(*) FROM schema_migrations GROUP BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		out[v] = n
	}
	return out
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
	cur, latest, err := s.SchemaVersion(t.Context())
	if err != nil || cur != latest || latest < 1 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 1", cur, latest, err)
	}
	for v := 1; v <= latest; v++ {
		if n := migrationRows(t, path)[v]; n != 1 {
			t.Errorf("version %d recorded %d times; want once", v, n)
		}
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open #%d: %v", i, err)
		}
	}
	for v, c := range migrationRows(t, path) {
		if c != 1 {
			t.Errorf("version %d recorded %d times; want once", v, c)
		}
	}
}

func TestSchemaVersionMismatch(t *testing.T) {
	t.Parallel()
	t.Run("a newer database fails naming both versions", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "new.db")
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		_, latest, _ := s.SchemaVersion(t.Context())
		_ = s.Close()
		if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
			t.Fatalf("fake newer version: %v", err)
		}
		for _, cfg := range []sqlitestore.Config{{Path: path}, {Path: path, NoAutoMigrate: true}, {Path: path, ReadOnly: true}} {
			s, err := sqlitestore.Open(t.Context(), cfg)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%+v) on a newer schema succeeded", cfg)
			}
			if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "999") ||
				!strings.Contains(err.Error(), fmt.Sprint(latest)) {
				t.Fatalf("Open(%+v) = %v; want ErrSchemaVersion naming 999 and %d", cfg, err, latest)
			}
		}
	})
	t.Run("an older database fails without auto-migrate and says to run stent migrate", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "old.db")
		db := rawDB(t, path)
		if _, err := db.Exec(`CREATE TABLE unrelated (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		_, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path, NoAutoMigrate: true})
		if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "stent migrate") {
			t.Fatalf("Open(NoAutoMigrate) on an empty database = %v; want ErrSchemaVersion saying to run `stent migrate`", err)
		}
		var tables int
		if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tasks'`).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("tasks tables = %d, %v; want none (nothing migrated)", tables, err)
		}
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
		if err != nil {
			t.Fatalf("Open with auto-migrate: %v", err)
		}
		_ = s.Close()
	})
}

// TestAVersion2DatabaseUpgradesInPlace builds a database at schema
// version 2 (the migrations applied by hand, with a task in flight) and
// opens it: the store migrates it to the latest version, the task reads
// back with the new columns at their defaults and can be claimed, parked
// and resumed, and the worker registry works.
func TestAVersion2DatabaseUpgradesInPlace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v2.db")
	db := rawDB(t, path)
	ms, err := sqlstore.Migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	expand := strings.NewReplacer("@", "", "{{time}}", "INTEGER", "{{bytes}}", "BLOB", "{{float}}", "REAL")
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := db.Exec(expand.Replace(m.SQL)); err != nil {
			t.Fatalf("apply %d: %v", m.Version, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	us := sqlstore.TimeToMicros(created)
	if _, err := db.Exec(`INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at)
 VALUES ('e', 'wf', 'e/r', 'running', ?, ?)`, us, us); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO tasks (id, execution_id, position, kind, step_name, state, attempt, retry_policy, created_at, updated_at)
 VALUES ('e/r', 'e', 0, 'orchestrator', 'wf', 'pending', 0, '{"max_attempts":3,"initial_delay_ms":1000,"max_delay_ms":60000,"backoff_factor":2,"jitter":0.1}', ?, ?)`, us, us); err != nil {
		t.Fatal(err)
	}

	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("open a version 2 database: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cur, latest, err := s.SchemaVersion(t.Context())
	if err != nil || cur != latest || latest < 3 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 3", cur, latest, err)
	}
	task, err := s.GetTask(t.Context(), "e/r")
	if err != nil {
		t.Fatal(err)
	}
	if task.Recoveries != 0 || task.WakeAt != nil || task.Awaited || task.RetryPolicy.RecoveryBudget() != domain.DefaultMaxRecoveries {
		t.Fatalf("upgraded task = %+v; want the new fields at their defaults", task)
	}
	ctx := t.Context()
	claimed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"wf"}, Limit: 1, Now: created, Lease: time.Minute})
	if err != nil || len(claimed) != 1 || claimed[0].Attempt != 1 {
		t.Fatalf("claim = %+v, %v; want the task at attempt 1", claimed, err)
	}
	wake := created.Add(time.Second)
	if parked, err := s.ParkTask(ctx, ports.ParkParams{Fence: claimed[0].Fence(), WakeAt: &wake, Now: created}); err != nil || !parked {
		t.Fatalf("park = %v, %v", parked, err)
	}
	resumed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"wf"}, Limit: 1, Now: wake, Lease: time.Minute})
	if err != nil || len(resumed) != 1 || resumed[0].Attempt != 1 || resumed[0].WakeAt != nil {
		t.Fatalf("resume = %+v, %v; want the task at attempt 1 without a wake-up time", resumed, err)
	}
	if err := s.RegisterWorker(ctx, domain.WorkerInfo{ID: "w", Queues: []string{"q"}}, created); err != nil {
		t.Fatal(err)
	}
	if ws, err := s.ListWorkers(ctx); err != nil || len(ws) != 1 || ws[0].State != domain.WorkerLive {
		t.Fatalf("ListWorkers = %+v, %v", ws, err)
	}
}
