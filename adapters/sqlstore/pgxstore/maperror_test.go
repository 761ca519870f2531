package pgxstore

import (
	"database/sql"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/stenthq/stent/domain"
)

func TestMapError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no rows is not found", sql.ErrNoRows, domain.ErrNotFound},
		{"a refused connection is unavailable", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, domain.ErrUnavailable},
		{"an unexpected EOF is unavailable", io.ErrUnexpectedEOF, domain.ErrUnavailable},
		{"a connection exception is unavailable", &pgconn.PgError{Code: "08006"}, domain.ErrUnavailable},
		{"an admin shutdown is unavailable", &pgconn.PgError{Code: "57P01"}, domain.ErrUnavailable},
		{"too many connections is unavailable", &pgconn.PgError{Code: "53300"}, domain.ErrUnavailable},
		{"a unique violation is a conflict", &pgconn.PgError{Code: "23505"}, domain.ErrConflict},
		{"a closed pool is closed", puddle.ErrClosedPool, domain.ErrClosed},
		{"a closed database is closed", errors.New("sql: database is closed"), domain.ErrClosed},
	}
	for _, c := range cases {
		got := mapError(c.err)
		if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("%s: mapError(%v) = %v; want it to match %v and keep the cause", c.name, c.err, got, c.want)
		}
	}
	syntax := &pgconn.PgError{Code: "42601"}
	if got := mapError(syntax); got != error(syntax) {
		t.Errorf("mapError(syntax error) = %v; want it unchanged", got)
	}
	d := dialect{}
	if !d.Retryable(&pgconn.PgError{Code: "40P01"}) || !d.Retryable(&pgconn.PgError{Code: "40001"}) || d.Retryable(syntax) {
		t.Errorf("Retryable: want deadlocks and serialisation failures only")
	}
}
