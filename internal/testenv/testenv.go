// Package testenv gives tests the external services they need, the same
// way everywhere: the service gate (a test that needs PostgreSQL or Redis
// skips, naming the variable, when the variable is unset, and fails
// instead under STENT_REQUIRE_SERVICES=1), a PostgreSQL schema of its own
// dropped at cleanup, and a Redis key prefix of its own. Import it only
// from _test.go files (archtest enforces it); package teststore opens each
// kind of store on top of it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The variables that point the tests at the services.
const (
	// PostgresEnv holds the DSN (URL form) of a PostgreSQL database the
	// tests may create and drop schemas in.
	PostgresEnv = "STENT_TEST_POSTGRES_DSN"
	// RedisEnv holds the URL of a Redis server the tests may publish on.
	RedisEnv = "STENT_TEST_REDIS_URL"
	// RequireEnv set to "1" turns a missing service into a failure (CI
	// sets it, so a misconfigured run cannot pass by skipping).
	RequireEnv = "STENT_REQUIRE_SERVICES"
)

// Service returns the value of the variable env. When it is unset the test
// is skipped with a message naming env, or fails when RequireEnv is "1".
func Service(tb testing.TB, env string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s is unset and %s=1", env, RequireEnv)
		}
		tb.Skipf("%s is unset; skipping a test that needs it", env)
	}
	return v
}

// Unavailable skips the test because what names is missing (a binary not
// on PATH, say), or fails it when RequireEnv is "1".
func Unavailable(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s and %s=1", what, RequireEnv)
	}
	tb.Skipf("%s; skipping a test that needs it", what)
}

// PostgresDSN returns the test server's DSN (Service of PostgresEnv).
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return Service(tb, PostgresEnv)
}

// RedisURL returns the test server's URL (Service of RedisEnv).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	return Service(tb, RedisEnv)
}

// Name returns prefix followed by 12 random hex digits: a name no other
// test (or test process) sharing a server uses.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresSchema returns the test server's DSN and a fresh schema name
// starting with prefix (lower case letters, digits and _). The schema is
// not created (the stores create theirs); at cleanup it is dropped with
// everything in it, over a connection of its own, after the cleanups the
// test registers later (its stores and pools) have run.
func PostgresSchema(tb testing.TB, prefix string) (dsn, schema string) {
	tb.Helper()
	dsn = PostgresDSN(tb)
	schema = Name(prefix)
	tb.Cleanup(func() {
		if err := DropSchema(dsn, schema); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

// deadlockDetected is PostgreSQL's SQLSTATE for a deadlock victim.
const deadlockDetected = "40P01"

// DropSchema drops schema and everything in it on the database at dsn. A
// DROP that loses a deadlock (a session still finishing a transaction in
// the schema, a notifier's listener still closing) is tried again, up to
// five times.
func DropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	stmt := "DROP SCHEMA IF EXISTS " + pgx.Identifier{schema}.Sanitize() + " CASCADE"
	for attempt := 1; ; attempt++ {
		_, err = conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 5 || !errors.As(err, &pgErr) || pgErr.Code != deadlockDetected {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// WithParams returns the URL-form dsn with the query parameters kv (key,
// value, key, value, ...) set, e.g. "search_path", schema.
func WithParams(tb testing.TB, dsn string, kv ...string) string {
	tb.Helper()
	if len(kv)%2 != 0 {
		tb.Fatalf("WithParams: odd number of key/value arguments %q", kv)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse the PostgreSQL DSN: %v", err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// nonName matches what a Redis prefix built from a test name leaves out.
var nonName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// RedisPrefix returns a key and channel prefix ("stent-test:<test
// name>:<random>:") no other test sharing the Redis server uses. Nothing
// needs removing at cleanup: Stent's Redis notifier only publishes.
func RedisPrefix(tb testing.TB) string {
	tb.Helper()
	name := strings.Trim(nonName.ReplaceAllString(tb.Name(), "_"), "_")
	if len(name) > 48 {
		name = name[:48]
	}
	return Name("stent-test:"+name+":") + ":"
}
