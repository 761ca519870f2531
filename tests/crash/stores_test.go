package crash

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// A target names a store the test and its worker processes share:
// "sqlite:<path>" or "postgres:<schema>" (on STENT_TEST_POSTGRES_DSN).

func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("STENT_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("STENT_REQUIRE_SERVICES") == "1" {
			t.Fatal("STENT_TEST_POSTGRES_DSN is unset and STENT_REQUIRE_SERVICES=1")
		}
		t.Skip("STENT_TEST_POSTGRES_DSN is unset; skipping the PostgreSQL crash test")
	}
	schema := "crash_" + strings.ReplaceAll(domain.NewID()[:13], "-", "")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			_ = conn.Close(context.Background())
		}
	})
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
		st, err = pgxstore.Open(ctx, os.Getenv("STENT_TEST_POSTGRES_DSN"), pgxstore.Config{Schema: strings.TrimPrefix(target, "postgres:")})
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
