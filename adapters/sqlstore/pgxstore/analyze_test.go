package pgxstore_test

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
)

// The store's growth ANALYZE (sqlstore's growth.go) runs on a real
// schema and leaves statistics for the columns the hot statements filter
// on. The store ignores its errors (best effort), so a broken statement
// would only show here.
func TestTheGrowthAnalyzeRunsOnARealSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, schema, _ := newPoolStore(t)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { _ = db.Close() })
	// Never analyzed: no estimate, so the store analyzes as its inserts
	// grow the tables.
	if n, err := pgxstore.TableRows(ctx, db, schema); err != nil || n != 0 {
		t.Fatalf("TableRows before an analyze = %d, %v; want 0", n, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO "`+schema+`".tasks (id, execution_id, position, kind, step_name, state,
		input, created_at, updated_at) SELECT 't' || i, 'e' || i, 0, 'orchestrator', 'f', 'pending', '\x01', now(), now()
		FROM generate_series(1, 100) i`); err != nil {
		t.Fatal(err)
	}
	if err := pgxstore.Analyze(ctx, db, schema); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	if n, err := pgxstore.TableRows(ctx, db, schema); err != nil || n != 100 {
		t.Fatalf("TableRows after an analyze = %d, %v; want 100 (the tasks)", n, err)
	}
	rows, err := pool.Query(ctx, `SELECT attname FROM pg_stats WHERE schemaname = $1 AND tablename = 'tasks'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"state", "queue", "step_name", "parent_task_id", "execution_id"} {
		if !slices.Contains(cols, want) {
			t.Errorf("no statistics for tasks.%s after the analyze; have %v", want, cols)
		}
	}
}
