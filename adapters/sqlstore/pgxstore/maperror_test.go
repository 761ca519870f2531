package pgxstore

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
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
		{"a NUL byte is invalid", &pgconn.PgError{Code: "22021"}, domain.ErrInvalidArgument},
		{"an untranslatable character is invalid", &pgconn.PgError{Code: "22P05"}, domain.ErrInvalidArgument},
		{"a number out of range is invalid", &pgconn.PgError{Code: "22003"}, domain.ErrInvalidArgument},
		{"a string too long is invalid", &pgconn.PgError{Code: "22001"}, domain.ErrInvalidArgument},
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

// The safety net on a real server: each statement makes PostgreSQL refuse
// a value (the ports validators keep such values from the stores' own
// statements), and mapError makes it ErrInvalidArgument.
func TestMapErrorMakesRefusedDataInvalid(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(t.Context(), `CREATE TEMP TABLE short_text (v varchar(3))`); err != nil {
		t.Fatalf("create a temporary table: %v", err)
	}
	for _, c := range []struct {
		name, code, query string
		arg               any
	}{
		{"a NUL byte in text", "22021", `SELECT $1::text`, "a\x00b"},
		{"invalid UTF-8 in text", "22021", `SELECT $1::text`, "a\xffb"},
		{"a NUL escape in jsonb", "22P05", `SELECT $1::text::jsonb`, `"a\u0000b"`},
		{"a number beyond int4", "22003", `SELECT ($1::bigint)::int4`, int64(1) << 40},
		{"a string too long", "22001", `INSERT INTO short_text VALUES ($1) RETURNING v`, "abcd"},
	} {
		var out any
		err := conn.QueryRow(t.Context(), c.query, c.arg).Scan(&out)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != c.code {
			t.Errorf("%s: %v; want SQLSTATE %s", c.name, err, c.code)
			continue
		}
		if got := mapError(err); !errors.Is(got, domain.ErrInvalidArgument) {
			t.Errorf("%s: mapError = %v; want ErrInvalidArgument", c.name, got)
		}
	}
}
