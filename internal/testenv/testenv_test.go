package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stenthq/stent/internal/testenv"
)

// gateChild is the variable that makes TestServiceGate's child process
// run the gate instead of the test.
const gateChild = "STENT_TESTENV_GATE_CHILD"

// TestServiceGate runs the gate in a child process (a skip or failure
// ends the test that calls it) with the variable unset, and checks the
// child skipped naming the variable, or failed under
// STENT_REQUIRE_SERVICES=1.
func TestServiceGate(t *testing.T) {
	if os.Getenv(gateChild) == "1" {
		testenv.Service(t, "STENT_TESTENV_UNSET_SERVICE")
		t.Fatal("the gate returned for an unset variable")
	}
	t.Parallel()
	for _, c := range []struct {
		name, require string
		fails         bool
		want          string
	}{
		{"an unset variable skips the test, naming it", "", false, "--- SKIP"},
		{"an unset variable fails the test under STENT_REQUIRE_SERVICES=1", "1", true, "--- FAIL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestServiceGate$", "-test.v")
			cmd.Env = append(os.Environ(), gateChild+"=1", testenv.RequireEnv+"="+c.require, "STENT_TESTENV_UNSET_SERVICE=")
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.fails || !strings.Contains(string(out), c.want) ||
				!strings.Contains(string(out), "STENT_TESTENV_UNSET_SERVICE is unset") {
				t.Fatalf("child exited with %v; want failure %v, %q and the variable named:\n%s", err, c.fails, c.want, out)
			}
		})
	}
}

func TestServiceReturnsTheValue(t *testing.T) {
	t.Setenv("STENT_TESTENV_SET_SERVICE", "redis://example:6379/0")
	if got := testenv.Service(t, "STENT_TESTENV_SET_SERVICE"); got != "redis://example:6379/0" {
		t.Fatalf("Service = %q", got)
	}
}

func TestRedisPrefixesAreDistinctAndNameTheTest(t *testing.T) {
	t.Parallel()
	a, b := testenv.RedisPrefix(t), testenv.RedisPrefix(t)
	if a == b || !strings.HasPrefix(a, "stent-test:TestRedisPrefixesAreDistinctAndNameTheTest:") || !strings.HasSuffix(a, ":") {
		t.Fatalf("prefixes %q and %q; want two distinct prefixes naming the test", a, b)
	}
}

func TestWithParamsSetsQueryParameters(t *testing.T) {
	t.Parallel()
	got := testenv.WithParams(t, "postgres://u@h:5432/db?sslmode=disable", "search_path", "s1", "pool_max_conns", "2")
	if got != "postgres://u@h:5432/db?pool_max_conns=2&search_path=s1&sslmode=disable" {
		t.Fatalf("WithParams = %s", got)
	}
}

// TestPostgresSchemaIsDroppedAtCleanup creates a table in the schema a
// subtest got and checks the schema is gone once the subtest is over.
func TestPostgresSchemaIsDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var dsn, schema string
	t.Run("use", func(t *testing.T) {
		dsn, schema = testenv.PostgresSchema(t, "testenv_")
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		for _, q := range []string{"CREATE SCHEMA " + schema, "CREATE TABLE " + schema + ".t (x int)"} {
			if _, err := conn.Exec(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d schemas named %s after cleanup (%v); want none", n, schema, err)
	}
}
