package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for raw access

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/ports"
)

// The schema migrations are shared by both SQL drivers, so they are tested
// once, here, on each dialect: a test gets an empty database of the
// dialect (a SQLite file, a PostgreSQL schema), opens stores on it and
// reads or tampers with it through database/sql.

// migratingStore is what both drivers' stores offer.
type migratingStore interface {
	ports.Store
	Migrate(ctx context.Context) error
	SchemaVersion(ctx context.Context) (current, latest int, err error)
}

// openMode is how a store is opened on an existing database.
type openMode string

const (
	autoMigrate   openMode = "auto-migrate"
	noAutoMigrate openMode = "no auto-migrate"
	readOnly      openMode = "read-only" // SQLite only
)

// emptyDB is one empty database of one dialect.
type emptyDB struct {
	dialect string
	// modes are the ways open can open a store here.
	modes []openMode
	// open opens a store on the database; every call has its own
	// connections (PostgreSQL: its own pool, so separate sessions).
	open func(ctx context.Context, mode openMode) (migratingStore, error)
	// raw reaches the database directly: unqualified table names are the
	// store's tables; placeholders are written "?".
	raw *sql.DB
	// init makes the database ready for raw DDL (PostgreSQL: creates the
	// schema the store would create); "" for none.
	init string
	// types expands a migration's type markers.
	types map[string]string
	// timeArg is a time as a raw statement's argument.
	timeArg func(time.Time) any
	// tables counts the database's tables named ?.
	tables string
}

// exec runs a raw statement, failing the test on error.
func (db emptyDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if db.dialect == "postgres" {
		q = sqlstore.RebindDollar(q)
	}
	if _, err := db.raw.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %s: %v", db.dialect, q, err)
	}
}

// count runs a raw COUNT query.
func (db emptyDB) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	if db.dialect == "postgres" {
		q = sqlstore.RebindDollar(q)
	}
	var n int
	if err := db.raw.QueryRowContext(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %s: %v", db.dialect, q, err)
	}
	return n
}

// migrations returns how many times each version is recorded.
func (db emptyDB) migrations(t *testing.T) map[int]int {
	t.Helper()
	rows, err := db.raw.QueryContext(t.Context(), `SELECT version, COUNT(*) FROM schema_migrations GROUP BY version`)
	if err != nil {
		t.Fatalf("%s: read schema_migrations: %v", db.dialect, err)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// openOK opens a store and closes it at cleanup.
func (db emptyDB) openOK(t *testing.T, mode openMode) migratingStore {
	t.Helper()
	s, err := db.open(t.Context(), mode)
	if err != nil {
		t.Fatalf("%s: open (%s): %v", db.dialect, mode, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func sqliteDB(t *testing.T) emptyDB {
	path := filepath.Join(t.TempDir(), "stent.sqlite")
	return emptyDB{
		dialect: "sqlite",
		modes:   []openMode{autoMigrate, noAutoMigrate, readOnly},
		open: func(ctx context.Context, mode openMode) (migratingStore, error) {
			return sqlitestore.Open(ctx, sqlitestore.Config{Path: path, NoAutoMigrate: mode == noAutoMigrate, ReadOnly: mode == readOnly})
		},
		raw:     rawDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)"),
		types:   map[string]string{"time": "INTEGER", "bytes": "BLOB", "float": "REAL"},
		timeArg: func(at time.Time) any { return sqlstore.TimeToMicros(at) },
		tables:  `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`,
	}
}

func postgresDB(t *testing.T) emptyDB {
	dsn, schema := testenv.PostgresSchema(t, "stent_migrate_")
	dsn = testenv.WithParams(t, dsn, "pool_max_conns", "2")
	return emptyDB{
		dialect: "postgres",
		modes:   []openMode{autoMigrate, noAutoMigrate},
		open: func(ctx context.Context, mode openMode) (migratingStore, error) {
			return pgxstore.Open(ctx, dsn, pgxstore.Config{Schema: schema, NoAutoMigrate: mode == noAutoMigrate})
		},
		raw:     rawDB(t, "pgx", testenv.WithParams(t, testenv.PostgresDSN(t), "search_path", schema)),
		init:    `CREATE SCHEMA "` + schema + `"`,
		types:   map[string]string{"time": "TIMESTAMPTZ", "bytes": "BYTEA", "float": "DOUBLE PRECISION"},
		timeArg: func(at time.Time) any { return at },
		tables:  `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`,
	}
}

// forEachDialect runs body as a parallel subtest per dialect, each on an
// empty database of its own.
func forEachDialect(t *testing.T, body func(t *testing.T, db emptyDB)) {
	t.Helper()
	for _, d := range []struct {
		name  string
		fresh func(t *testing.T) emptyDB
	}{{"sqlite", sqliteDB}, {"postgres", postgresDB}} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			body(t, d.fresh(t))
		})
	}
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db emptyDB) {
		s := db.openOK(t, autoMigrate)
		for i := range 2 {
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("migrate #%d: %v", i+1, err)
			}
		}
		cur, latest, err := s.SchemaVersion(t.Context())
		if err != nil || cur != latest || latest < 1 {
			t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 1", cur, latest, err)
		}
		counts := db.migrations(t)
		for v := 1; v <= latest; v++ {
			if counts[v] != 1 {
				t.Errorf("version %d recorded %d times; want once", v, counts[v])
			}
		}
	})
}

// TestConcurrentMigratorsApplyEachVersionOnce opens four stores (separate
// connections, on PostgreSQL separate pools) on one empty database at the
// same time; each migrates it.
func TestConcurrentMigratorsApplyEachVersionOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db emptyDB) {
		const n = 4
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				s, err := db.open(context.Background(), autoMigrate)
				if err == nil {
					err = s.Migrate(context.Background())
					_ = s.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrator %d: %v", i, err)
			}
		}
		counts := db.migrations(t)
		if len(counts) == 0 {
			t.Fatal("no migration recorded")
		}
		for v, c := range counts {
			if c != 1 {
				t.Errorf("version %d recorded %d times; want once", v, c)
			}
		}
	})
}

func TestSchemaVersionMismatch(t *testing.T) {
	t.Parallel()
	t.Run("a newer schema fails naming both versions", func(t *testing.T) {
		t.Parallel()
		forEachDialect(t, func(t *testing.T, db emptyDB) {
			s := db.openOK(t, autoMigrate)
			_, latest, _ := s.SchemaVersion(t.Context())
			_ = s.Close()
			db.exec(t, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)`, db.timeArg(time.Now()))
			for _, mode := range db.modes {
				s, err := db.open(t.Context(), mode)
				if err == nil {
					_ = s.Close()
					t.Fatalf("open (%s) on a newer schema succeeded", mode)
				}
				if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "999") ||
					!strings.Contains(err.Error(), fmt.Sprint(latest)) {
					t.Fatalf("open (%s) = %v; want ErrSchemaVersion naming 999 and %d", mode, err, latest)
				}
			}
		})
	})
	t.Run("an older schema fails without auto-migrate and says to run stent migrate", func(t *testing.T) {
		t.Parallel()
		forEachDialect(t, func(t *testing.T, db emptyDB) {
			if db.init != "" {
				db.exec(t, db.init)
			}
			db.exec(t, `CREATE TABLE unrelated (x INTEGER)`)
			_, err := db.open(t.Context(), noAutoMigrate)
			if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "stent migrate") {
				t.Fatalf("open (%s) on an empty database = %v; want ErrSchemaVersion saying to run `stent migrate`", noAutoMigrate, err)
			}
			if n := db.count(t, db.tables, "tasks"); n != 0 {
				t.Fatalf("%d tasks tables; want none (nothing migrated)", n)
			}
			db.openOK(t, autoMigrate) // and auto-migration still works
		})
	})
}

// TestAVersion2SchemaUpgradesInPlace builds a database at schema version 2
// (the migrations applied by hand, with a task in flight) and opens it:
// the store migrates it to the latest version, the task reads back with
// the new columns at their defaults and can be claimed, parked and
// resumed, and the worker registry works.
func TestAVersion2SchemaUpgradesInPlace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db emptyDB) {
		ctx := t.Context()
		created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		applyByHand(t, db, 2, created)
		db.exec(t, `INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at)
 VALUES ('e', 'wf', 'e/r', 'running', ?, ?)`, db.timeArg(created), db.timeArg(created))
		db.exec(t, `INSERT INTO tasks (id, execution_id, position, kind, step_name, state, attempt, retry_policy, created_at, updated_at)
 VALUES ('e/r', 'e', 0, 'orchestrator', 'wf', 'pending', 0, '{"max_attempts":3,"initial_delay_ms":1000,"max_delay_ms":60000,"backoff_factor":2,"jitter":0.1}', ?, ?)`,
			db.timeArg(created), db.timeArg(created))

		s := db.openOK(t, autoMigrate)
		cur, latest, err := s.SchemaVersion(ctx)
		if err != nil || cur != latest || latest < 3 {
			t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 3", cur, latest, err)
		}
		task, err := s.GetTask(ctx, "e/r")
		if err != nil {
			t.Fatal(err)
		}
		if task.Recoveries != 0 || task.WakeAt != nil || task.Awaited || task.RetryPolicy.RecoveryBudget() != domain.DefaultMaxRecoveries {
			t.Fatalf("upgraded task = %+v; want the new fields at their defaults", task)
		}
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
	})
}

// applyByHand creates the schema of the first n migrations by hand, as an
// older binary would have left it, recording them in schema_migrations.
func applyByHand(t *testing.T, db emptyDB, n int, at time.Time) {
	t.Helper()
	ms, err := sqlstore.Migrations(db.dialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < n {
		t.Fatalf("only %d migrations; want at least %d", len(ms), n)
	}
	pairs := []string{"@", ""}
	for k, v := range db.types {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	expand := strings.NewReplacer(pairs...)
	if db.init != "" {
		db.exec(t, db.init)
	}
	db.exec(t, expand.Replace(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {{time}} NOT NULL)`))
	for _, m := range ms[:n] {
		db.exec(t, expand.Replace(m.SQL))
		db.exec(t, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, db.timeArg(at))
	}
}

// TestAVersion9SchemaUpgradesInPlace builds a database at schema version 9
// with finished and live work and opens it: the store migrates it to
// version 10 (state indexes on live rows only); the finished rows still
// count and list by state, and the live ones are claimed and completed, a
// root with a step cancelling its leftover step and a step-less root
// completing alone.
func TestAVersion9SchemaUpgradesInPlace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db emptyDB) {
		ctx := t.Context()
		created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		applyByHand(t, db, 9, created)
		ts := db.timeArg(created)
		db.exec(t, `INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at, started_at, finished_at)
 VALUES ('done', 'wf', 'done/r', 'completed', ?, ?, ?, ?)`, ts, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, position, kind, step_name, state, attempt, created_at, updated_at, started_at, finished_at)
 VALUES ('done/r', 'done', 0, 'orchestrator', 'wf', 'completed', 1, ?, ?, ?, ?)`, ts, ts, ts, ts)
		db.exec(t, `INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at)
 VALUES ('e', 'wf', 'e/r', 'pending', ?, ?)`, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, position, kind, step_name, state, created_at, updated_at)
 VALUES ('e/r', 'e', 0, 'orchestrator', 'wf', 'pending', ?, ?)`, ts, ts)
		db.exec(t, `INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at, started_at)
 VALUES ('p', 'wf', 'p/r', 'running', ?, ?, ?)`, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, position, kind, step_name, state, attempt, created_at, updated_at, started_at)
 VALUES ('p/r', 'p', 0, 'orchestrator', 'wf', 'pending', 1, ?, ?, ?)`, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, parent_task_id, position, kind, step_name, state, created_at, updated_at)
 VALUES ('p/s', 'p', 'p/r', 0, 'activity', 'act', 'pending', ?, ?)`, ts, ts)

		s := db.openOK(t, autoMigrate)
		cur, latest, err := s.SchemaVersion(ctx)
		if err != nil || cur != latest || latest < 10 {
			t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 10", cur, latest, err)
		}
		if done, err := s.ListExecutions(ctx, ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionCompleted}}); err != nil ||
			len(done) != 1 || done[0].ID != "done" {
			t.Fatalf("ListExecutions(completed) = %+v, %v; want the finished execution", done, err)
		}
		if live, err := s.ListExecutions(ctx, ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionPending, domain.ExecutionRunning}}); err != nil ||
			len(live) != 2 {
			t.Fatalf("ListExecutions(live) = %+v, %v; want e and p", live, err)
		}
		claimed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"wf"}, Limit: 10, Now: created, Lease: time.Minute})
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claim = %+v, %v; want the two live roots", claimed, err)
		}
		if e, err := s.GetExecution(ctx, "e"); err != nil || e.State != domain.ExecutionRunning {
			t.Fatalf("execution e after its claim = %+v, %v; want running", e, err)
		}
		var ps []ports.CompleteParams
		for _, c := range claimed {
			ps = append(ps, ports.CompleteParams{Fence: c.Fence(), Result: json.RawMessage(`1`), Now: created.Add(time.Second)})
		}
		res, err := s.CompleteTasks(ctx, ps)
		if err != nil || len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
			t.Fatalf("complete = %+v, %v", res, err)
		}
		for _, id := range []string{"e", "p"} {
			if e, err := s.GetExecution(ctx, id); err != nil || e.State != domain.ExecutionCompleted {
				t.Fatalf("execution %s = %+v, %v; want completed", id, e, err)
			}
		}
		if step, err := s.GetTask(ctx, "p/s"); err != nil || step.State != domain.TaskCancelled {
			t.Fatalf("leftover step = %+v, %v; want cancelled with its root", step, err)
		}
		byState, err := s.CountExecutionsByState(ctx)
		if err != nil || byState[domain.ExecutionCompleted] != 3 || len(byState) != 1 {
			t.Fatalf("CountExecutionsByState = %v, %v; want 3 completed", byState, err)
		}
		counts, err := s.CountTasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tasks := map[domain.TaskState]int64{}
		for _, c := range counts {
			tasks[c.State] += c.N
		}
		if tasks[domain.TaskCompleted] != 3 || tasks[domain.TaskCancelled] != 1 || len(tasks) != 2 {
			t.Fatalf("CountTasks by state = %v; want 3 completed, 1 cancelled", tasks)
		}
	})
}

// TestAVersion10SchemaUpgradesInPlace builds a database at schema version
// 10 with a rate group's starts in the per-task log (rate_starts), one of
// them of a task retention already removed, and opens it: the store
// migrates the log to version 11 (a row per claim with its number of
// starts); both starts still count in the usage and hold the claim back
// until the window moves past them.
func TestAVersion10SchemaUpgradesInPlace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db emptyDB) {
		ctx := t.Context()
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		applyByHand(t, db, 10, t0)
		ts := db.timeArg(t0)
		per := (10 * time.Second).Microseconds()
		db.exec(t, `INSERT INTO executions (id, root_function, root_task_id, state, created_at, updated_at, started_at)
 VALUES ('e', 'wf', 'e/r', 'running', ?, ?, ?)`, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, position, kind, step_name, state, attempt, created_at, updated_at, started_at)
 VALUES ('e/r', 'e', 0, 'orchestrator', 'wf', 'running', 1, ?, ?, ?)`, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, parent_task_id, position, kind, step_name, queue, state, attempt, rate_key, rate_limit, rate_per, created_at, updated_at, started_at, finished_at)
 VALUES ('e/a', 'e', 'e/r', 1, 'activity', 'rl', 'jobs', 'completed', 1, 'function:rl:x', 2, ?, ?, ?, ?, ?)`, per, ts, ts, ts, ts)
		db.exec(t, `INSERT INTO tasks (id, execution_id, parent_task_id, position, kind, step_name, queue, state, rate_key, rate_limit, rate_per, created_at, updated_at)
 VALUES ('e/b', 'e', 'e/r', 2, 'activity', 'rl', 'jobs', 'pending', 'function:rl:x', 2, ?, ?, ?)`, per, ts, ts)
		db.exec(t, `INSERT INTO rate_starts (rate_key, started_at, task_id) VALUES ('function:rl:x', ?, 'e/a')`, db.timeArg(t0.Add(time.Second)))
		db.exec(t, `INSERT INTO rate_starts (rate_key, started_at, task_id) VALUES ('function:rl:x', ?, 'gone')`, db.timeArg(t0.Add(2*time.Second)))

		s := db.openOK(t, autoMigrate)
		cur, latest, err := s.SchemaVersion(ctx)
		if err != nil || cur != latest || latest < 11 {
			t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 11", cur, latest, err)
		}
		usage, err := s.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: t0.Add(3 * time.Second)})
		want := domain.LimitUsage{Kind: domain.LimitRate, Group: "function:rl:x", Scope: domain.ScopeFunction, Name: "rl", Key: "x",
			Limit: 2, Per: 10 * time.Second, PerSeconds: 10, InUse: 2, Pending: 1}
		if err != nil || len(usage) != 1 || usage[0] != want {
			t.Fatalf("ListLimitUsage = %+v, %v; want [%+v]", usage, err, want)
		}
		claim := func(at time.Time) int {
			t.Helper()
			got, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"rl"}, Limit: 10, Now: at, Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		if n := claim(t0.Add(4 * time.Second)); n != 0 {
			t.Fatalf("claimed %d while the two migrated starts fill the window; want 0", n)
		}
		if n := claim(t0.Add(13 * time.Second)); n != 1 {
			t.Fatalf("claimed %d once the window moved past the migrated starts; want 1", n)
		}
	})
}
