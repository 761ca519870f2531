package pgnotify_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/internal/testenv"
)

// testDSN returns the test server's DSN (the service gate of testenv).
func testDSN(t *testing.T) string {
	t.Helper()
	return testenv.PostgresDSN(t)
}

// newPool returns a small pool (the server allows 100 connections in all),
// closed at cleanup.
func newPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.PostgresEnv, err)
	}
	cfg.MaxConns = 3
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// fastConfig reconnects quickly, so outage tests finish promptly.
func fastConfig(prefix, appName string) pgnotify.Config {
	cfg := notifycoretest.FastConfig(prefix)
	cfg.ApplicationName = appName
	return cfg
}

// newNotifier builds a notifier on pool, closed at cleanup.
func newNotifier(t *testing.T, pool *pgxpool.Pool, cfg pgnotify.Config) *pgnotify.Notifier {
	t.Helper()
	return notifycoretest.Closed[*pgnotify.Notifier](t)(pgnotify.New(t.Context(), pool, cfg))
}

// sessions counts the server sessions named appName.
func sessions(t *testing.T, pool *pgxpool.Pool, appName string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", appName).Scan(&n); err != nil {
		t.Fatalf("pg_stat_activity: %v", err)
	}
	return n
}

// terminate ends the sessions named by appNames and returns how many it
// ended.
func terminate(t *testing.T, pool *pgxpool.Pool, appNames ...string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = ANY($1) AND pid <> pg_backend_pid()) AS ended`, appNames).Scan(&n)
	if err != nil {
		t.Fatalf("pg_terminate_backend: %v", err)
	}
	return n
}
