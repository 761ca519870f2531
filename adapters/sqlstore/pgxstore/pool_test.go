package pgxstore_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
)

// newPoolStore opens a pool on the test database and a store over it in a
// fresh schema; both close at the end of the test.
func newPoolStore(t *testing.T) (pool *pgxpool.Pool, schema string, s *pgxstore.Store) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema = teststore.NewSchema(t)
	s, err = pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return pool, schema, s
}
