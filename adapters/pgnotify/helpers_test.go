package pgnotify_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

const dsnEnv = "STENT_TEST_POSTGRES_DSN"

const wait = 15 * time.Second

// testDSN returns the test server's DSN, skipping the test when
// STENT_TEST_POSTGRES_DSN is unset (failing instead when
// STENT_REQUIRE_SERVICES=1).
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

// newPool returns a small pool (the server allows 100 connections in all),
// closed at cleanup.
func newPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", dsnEnv, err)
	}
	cfg.MaxConns = 3
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// randomName returns a fresh name for prefixes and application names, so
// tests sharing one server never meet.
func randomName(kind string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "stent-test-" + kind + "-" + hex.EncodeToString(b)
}

// fastConfig reconnects quickly, so outage tests finish promptly.
func fastConfig(prefix, appName string) pgnotify.Config {
	return pgnotify.Config{Prefix: prefix, ApplicationName: appName,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
}

// newNotifier builds a notifier on pool, closed at cleanup.
func newNotifier(t *testing.T, pool *pgxpool.Pool, cfg pgnotify.Config) *pgnotify.Notifier {
	t.Helper()
	n, err := pgnotify.New(t.Context(), pool, cfg)
	if err != nil {
		t.Fatalf("pgnotify.New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
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

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(substr string) int { return strings.Count(b.String(), substr) }

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// next returns sub's next event, failing after wait.
func next(t *testing.T, sub ports.Subscription) domain.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(wait):
		t.Fatalf("no event within %v", wait)
	}
	return domain.Event{}
}
