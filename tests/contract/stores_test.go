package contract_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

// The store contract on the three adapters of this repository:
//
//	go test ./tests/contract/... -run 'Postgres|SQLite|Mem' -v
//
// runs the same subtests on each. The engine scenario suite runs from each
// adapter's package (TestEngine).

func TestContractMem(t *testing.T) {
	t.Parallel()
	contract.RunStore(t, func(t *testing.T) ports.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, contract.StoreCaps{Name: "memstore"})
}

func TestContractSQLite(t *testing.T) {
	t.Parallel()
	contract.RunStore(t, func(t *testing.T) ports.Store {
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "stent.db")})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, contract.StoreCaps{Name: "sqlite"})
}

func TestContractPostgres(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("STENT_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("STENT_REQUIRE_SERVICES") == "1" {
			t.Fatal("STENT_TEST_POSTGRES_DSN is not set and STENT_REQUIRE_SERVICES=1")
		}
		t.Skip("STENT_TEST_POSTGRES_DSN is not set; skipping the PostgreSQL store contract")
	}
	contract.RunStore(t, func(t *testing.T) ports.Store {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("parse STENT_TEST_POSTGRES_DSN: %v", err)
		}
		cfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatalf("pool: %v", err)
		}
		schema := "stent_contract_" + domain.NewID()[:8]
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for range 5 { // a deadlock with a finishing transaction: try again
				if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			pool.Close()
		})
		s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema})
		if err != nil {
			t.Fatalf("new store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, contract.StoreCaps{Name: "postgres"})
}
