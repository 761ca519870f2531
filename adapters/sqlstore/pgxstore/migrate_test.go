package pgxstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
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
