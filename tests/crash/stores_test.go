package crash

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/ports"
)

// A target names a store the test and its worker processes share:
// "sqlite:<path>" or "postgres:<schema>" (on STENT_TEST_POSTGRES_DSN).

// postgresDSN returns a target naming a fresh schema on
// STENT_TEST_POSTGRES_DSN, dropped at cleanup.
func postgresDSN(t *testing.T) string {
	t.Helper()
	_, schema := testenv.PostgresSchema(t, "crash_")
	return "postgres:" + schema
}

// openStore opens the target; the test's own handle is closed at cleanup.
func openStore(ctx context.Context, t *testing.T, target string, own bool) (ports.Store, error) {
	var st interface {
		ports.Store
	}
	var err error
	switch {
	case strings.HasPrefix(target, "postgres:"):
		st, err = pgxstore.Open(ctx, os.Getenv(testenv.PostgresEnv), pgxstore.Config{Schema: strings.TrimPrefix(target, "postgres:")})
	default:
		st, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: target})
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", target, err)
	}
	if own {
		t.Cleanup(func() { _ = st.Close() })
	}
	return st, nil
}
