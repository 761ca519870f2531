package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestMapError(t *testing.T) {
	t.Parallel()
	db := rawDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, dup := db.ExecContext(ctx, `INSERT INTO t VALUES ('a')`)
	var s string
	noRows := db.QueryRowContext(ctx, `SELECT id FROM t WHERE id = 'b'`).Scan(&s)
	_, syntax := db.ExecContext(ctx, `SELEKT 1`)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"a primary-key violation is a conflict", dup, domain.ErrConflict},
		{"no rows is not found", noRows, domain.ErrNotFound},
		{"a closed database is closed", errors.New("sql: database is closed"), domain.ErrClosed},
		{"a bad connection is unavailable", sql.ErrConnDone, domain.ErrUnavailable},
	}
	for _, c := range cases {
		got := mapError(c.err)
		if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("%s: mapError(%v) = %v; want it to match %v and keep the cause", c.name, c.err, got, c.want)
		}
	}
	if got := mapError(syntax); got != syntax {
		t.Errorf("mapError(syntax error) = %v; want it unchanged", got)
	}
	if !(dialect{}).UniqueViolation(dup) {
		t.Errorf("UniqueViolation(%v) = false", dup)
	}
}
