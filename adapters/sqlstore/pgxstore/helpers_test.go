package pgxstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
)

// dsnEnv names the variable that points the tests at a PostgreSQL server.
const dsnEnv = "STENT_TEST_POSTGRES_DSN"

// testDSN returns the test server's DSN, skipping the test when it is not
// set (failing instead when STENT_REQUIRE_SERVICES=1).
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("STENT_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not set and STENT_REQUIRE_SERVICES=1", dsnEnv)
		}
		t.Skipf("%s is not set; skipping the PostgreSQL tests", dsnEnv)
	}
	return dsn
}

// newTestPool returns a small pool to the test server, closed in
// t.Cleanup.
func newTestPool(t *testing.T, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testDSN(t))
	if err != nil {
		t.Fatalf("parse %s: %v", dsnEnv, err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testSchema returns a fresh schema name, dropped (with everything in it)
// in t.Cleanup.
func testSchema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	schema := "stent_test_" + domain.NewID()[:8] + domain.NewID()[:8]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A connection still finishing a transaction in the schema can make
		// the DROP the victim of a deadlock; try again.
		var err error
		for range 5 {
			if _, err = pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("drop schema %s: %v", schema, err)
	})
	return schema
}

// newTestStore returns a migrated store in its own schema over a pool of
// at most 4 connections; everything is dropped and closed in t.Cleanup.
func newTestStore(t *testing.T) *pgxstore.Store {
	t.Helper()
	pool := newTestPool(t, 4)
	schema := testSchema(t, pool)
	s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newBenchStore returns a migrated store in its own schema for a
// benchmark, over a pool of 8 connections.
func newBenchStore(b *testing.B) *pgxstore.Store {
	b.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		b.Skipf("%s is not set; skipping the PostgreSQL benchmarks", dsnEnv)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	schema := "stent_bench_" + domain.NewID()[:8]
	s, err := pgxstore.New(b.Context(), pool, pgxstore.Config{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Close()
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		pool.Close()
	})
	return s
}
