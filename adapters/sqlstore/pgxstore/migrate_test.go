package pgxstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func migrationCounts(t *testing.T, pool *pgxpool.Pool, schema string) map[int]int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT version, COUNT(*) FROM "`+schema+`".schema_migrations GROUP BY version`)
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

// TestConcurrentMigratorsApplyEachVersionOnce runs migrators from separate
// pools (separate server sessions) on one fresh schema at the same time.
func TestConcurrentMigratorsApplyEachVersionOnce(t *testing.T) {
	t.Parallel()
	admin := newTestPool(t, 2)
	schema := testSchema(t, admin)
	const n = 4
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		pools[i] = newTestPool(t, 2)
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := pgxstore.New(context.Background(), pools[i], pgxstore.Config{Schema: schema})
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
	counts := migrationCounts(t, admin, schema)
	if len(counts) == 0 {
		t.Fatalf("no migration recorded")
	}
	for v, c := range counts {
		if c != 1 {
			t.Errorf("version %d recorded %d times; want once", v, c)
		}
	}
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
	cur, latest, err := s.SchemaVersion(t.Context())
	if err != nil || cur != latest || latest < 1 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want current == latest >= 1", cur, latest, err)
	}
	for v, c := range migrationCounts(t, s.Pool(), s.Schema()) {
		if c != 1 {
			t.Errorf("version %d recorded %d times; want once", v, c)
		}
	}
}

func TestSchemaVersionMismatch(t *testing.T) {
	t.Parallel()
	t.Run("a newer schema fails naming both versions", func(t *testing.T) {
		t.Parallel()
		pool := newTestPool(t, 2)
		schema := testSchema(t, pool)
		s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema})
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		_, latest, _ := s.SchemaVersion(t.Context())
		_ = s.Close()
		if _, err := pool.Exec(t.Context(), `INSERT INTO "`+schema+`".schema_migrations (version, name, applied_at)
 VALUES (999, 'future', now())`); err != nil {
			t.Fatalf("fake newer version: %v", err)
		}
		for _, cfg := range []pgxstore.Config{{Schema: schema}, {Schema: schema, NoAutoMigrate: true}} {
			s, err := pgxstore.New(t.Context(), pool, cfg)
			if err == nil {
				_ = s.Close()
				t.Fatalf("New(%+v) on a newer schema succeeded", cfg)
			}
			if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "999") ||
				!strings.Contains(err.Error(), fmt.Sprint(latest)) {
				t.Fatalf("New(%+v) = %v; want ErrSchemaVersion naming 999 and %d", cfg, err, latest)
			}
		}
	})
	t.Run("an older schema fails without auto-migrate and says to run stent migrate", func(t *testing.T) {
		t.Parallel()
		pool := newTestPool(t, 2)
		schema := testSchema(t, pool)
		_, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema, NoAutoMigrate: true})
		if !errors.Is(err, domain.ErrSchemaVersion) || !strings.Contains(err.Error(), "stent migrate") {
			t.Fatalf("New(NoAutoMigrate) on an empty schema = %v; want ErrSchemaVersion saying to run `stent migrate`", err)
		}
		var tables int
		if err := pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1`,
			schema).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("tables in %s = %d, %v; want none (nothing migrated)", schema, tables, err)
		}
	})
}

// TestAVersion2SchemaUpgradesInPlace builds a schema at version 2 (the
// migrations applied by hand, with a task in flight) and opens it: the
// store migrates it to the latest version, the task reads back with the
// new columns at their defaults and can be claimed, parked and resumed,
// and the worker registry works.
func TestAVersion2SchemaUpgradesInPlace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := newTestPool(t, 2)
	schema := testSchema(t, pool)
	ms, err := sqlstore.Migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	prefix := `"` + schema + `".`
	expand := strings.NewReplacer("@", prefix, "{{time}}", "TIMESTAMPTZ", "{{bytes}}", "BYTEA", "{{float}}", "DOUBLE PRECISION")
	for _, q := range []string{
		`CREATE SCHEMA "` + schema + `"`,
		`CREATE TABLE ` + prefix + `schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms[:2] {
		if _, err := pool.Exec(ctx, expand.Replace(m.SQL)); err != nil {
			t.Fatalf("apply %d: %v", m.Version, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO `+prefix+`schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
			m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO `+prefix+`executions (id, root_function, root_task_id, state, created_at, updated_at)
 VALUES ('e', 'wf', 'e/r', 'running', $1, $1)`, created); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO `+prefix+`tasks (id, execution_id, position, kind, step_name, state, attempt, retry_policy, created_at, updated_at)
 VALUES ('e/r', 'e', 0, 'orchestrator', 'wf', 'pending', 0, '{"max_attempts":3,"initial_delay_ms":1000,"max_delay_ms":60000,"backoff_factor":2,"jitter":0.1}', $1, $1)`,
		created); err != nil {
		t.Fatal(err)
	}

	s, err := pgxstore.New(ctx, pool, pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatalf("open a version 2 schema: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
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
}
