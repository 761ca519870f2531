// Package teststore opens each kind of store this repository ships, fresh
// and migrated, for one test or benchmark: memstore, SQLite in the test's
// temporary directory, and PostgreSQL in a schema of its own on
// STENT_TEST_POSTGRES_DSN (skipped without it, see testenv). Everything it
// opens is closed, and every schema dropped, at cleanup. Import it only
// from _test.go files.
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/ports"
)

// A Kind is one store implementation and how to open a fresh one.
type Kind struct {
	// Name is the store's label: "memstore", "sqlite" or "postgres".
	Name string
	// Open returns a fresh, empty, migrated store, closed at cleanup.
	Open func(tb testing.TB) ports.Store
}

// Kinds lists every store of the repository, the reference store first.
func Kinds() []Kind {
	return []Kind{
		{"memstore", func(tb testing.TB) ports.Store { return Mem(tb) }},
		{"sqlite", func(tb testing.TB) ports.Store { return SQLite(tb) }},
		{"postgres", func(tb testing.TB) ports.Store { return Postgres(tb) }},
	}
}

// Factory returns Open for a *testing.T, the factory shape of the
// contract suites.
func (k Kind) Factory() func(t *testing.T) ports.Store {
	return func(t *testing.T) ports.Store { return k.Open(t) }
}

// Run runs body as a parallel subtest named after each kind of store.
func Run(t *testing.T, body func(t *testing.T, k Kind)) {
	t.Helper()
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			body(t, k)
		})
	}
}

// Mem returns an empty memstore, closed at cleanup.
func Mem(tb testing.TB) *memstore.Store {
	tb.Helper()
	s := memstore.New()
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// SQLite opens a fresh migrated database in the test's temporary
// directory, closed at cleanup.
func SQLite(tb testing.TB) *sqlitestore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(tb.TempDir(), "stent.sqlite")})
	if err != nil {
		tb.Fatalf("open SQLite: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// PostgresPoolSize is the pool size of the stores Postgres opens: small,
// as many tests share one server.
const PostgresPoolSize = 4

// Postgres returns a migrated store in a schema of its own over a pool of
// PostgresPoolSize connections; the store and pool are closed and the
// schema dropped at cleanup.
func Postgres(tb testing.TB) *pgxstore.Store {
	tb.Helper()
	return PostgresIn(tb, Pool(tb, PostgresPoolSize), NewSchema(tb))
}

// NewSchema returns a fresh schema name on the test server, dropped at
// cleanup (testenv.PostgresSchema).
func NewSchema(tb testing.TB) string {
	tb.Helper()
	_, schema := testenv.PostgresSchema(tb, "stent_test_")
	return schema
}

// Pool returns a pool of at most maxConns connections to the test server,
// closed at cleanup.
func Pool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(tb))
	if err != nil {
		tb.Fatalf("parse %s: %v", testenv.PostgresEnv, err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("PostgreSQL pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// PostgresIn returns a migrated store over pool in schema (from
// NewSchema), closed at cleanup.
func PostgresIn(tb testing.TB, pool *pgxpool.Pool, schema string) *pgxstore.Store {
	tb.Helper()
	s, err := pgxstore.New(context.Background(), pool, pgxstore.Config{Schema: schema})
	if err != nil {
		tb.Fatalf("open PostgreSQL schema %s: %v", schema, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
