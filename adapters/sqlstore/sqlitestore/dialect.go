package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/domain"
)

// dialect is the SQLite side of the sqlstore seam: JSON lists through
// json_each, times as INTEGER microseconds, no row locks (one writer
// connection serialises every write transaction).
type dialect struct{}

var _ sqlstore.Dialect = dialect{}

func (dialect) Name() string               { return "sqlite" }
func (dialect) Rebind(q string) string     { return q }
func (dialect) TablePrefix() string        { return "" }
func (dialect) EncodeTime(t time.Time) any { return sqlstore.TimeToMicros(t) }
func (dialect) ForUpdate() string          { return "" }

// SerialWrites: the store writes through one connection.
func (dialect) SerialWrites() bool { return true }

func (dialect) ForUpdateSkipLocked() string {
	return ""
}
func (dialect) ForShare() string { return "" }

// ValuesRows: SQLite takes up to 32766 parameters per statement; RowSet's
// json_each decodes the row's JSON again for every column it reads.
func (dialect) ValuesRows(cols int) int { return min(512, 32766/max(cols, 1)) }

func (dialect) IndexedBy(index string) string { return " INDEXED BY " + index }
func (dialect) Unindexed(col string) string   { return "+" + col }
func (dialect) WritableCTEs() bool            { return false }
func (dialect) LiteralLimits() bool           { return false }

func (dialect) SchemaTypes() map[string]string {
	return map[string]string{"time": "INTEGER", "bytes": "BLOB", "float": "REAL"}
}

func (dialect) StringList(v []string) any {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // strings always encode
	return string(b)
}

func (dialect) InList(expr string) string {
	return expr + " IN (SELECT value FROM json_each(?))"
}

func (dialect) TagsOverlap(col string) string {
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") AS tag WHERE tag.value IN (SELECT value FROM json_each(?)))"
}

// TextContains relies on LIKE, which folds ASCII letters only (the
// pattern is folded already, harmlessly). A BLOB is read as its UTF-8
// text.
func (dialect) TextContains(col string, bytes bool) string {
	if bytes {
		col = "CAST(" + col + " AS TEXT)"
	}
	return col + " LIKE ? ESCAPE '\\'"
}

// RowSet reads a JSON array of arrays: text and integers as JSON values,
// bytes as hex strings (unhex gives the BLOB back), times as microseconds.
// A one-column set is a flat array of those values: json_each hands each
// one over as it is, where an array of arrays is decoded again for every
// column read.
func (dialect) RowSet(alias string, cols []sqlstore.Column) string {
	var b strings.Builder
	b.WriteString("(SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		expr := "value->>" + strconv.Itoa(i)
		if len(cols) == 1 {
			expr = "value"
		}
		if c.Type == sqlstore.ColBytes {
			expr = "unhex(" + expr + ")"
		}
		b.WriteString(expr + " AS " + c.Name)
	}
	b.WriteString(" FROM json_each(?)) AS " + alias)
	return b.String()
}

func (dialect) RowSetArgs(cols []sqlstore.Column, rows [][]any) []any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		enc := make([]any, len(cols))
		for j, c := range cols {
			v := r[j]
			switch c.Type {
			case sqlstore.ColBytes:
				if b, ok := v.([]byte); ok && b != nil {
					v = hex.EncodeToString(b)
				} else {
					v = nil
				}
			case sqlstore.ColTime:
				if t, ok := v.(time.Time); ok {
					v = sqlstore.TimeToMicros(t)
				} else {
					v = nil
				}
			}
			enc[j] = v
		}
		out[i] = enc
	}
	var set any = out
	if len(cols) == 1 {
		flat := make([]any, len(out))
		for i, r := range out {
			flat[i] = r[0]
		}
		set = flat
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(fmt.Sprintf("sqlitestore: encode row set: %v", err)) // strings, ints and nil always encode
	}
	return []any{string(b)}
}

func (dialect) LockFunctions(context.Context, *sql.Tx, []string) error { return nil }

// FlowLocks are always taken: the single writer serialises claims.
func (dialect) FlowLocks(string) string { return "1 AS key_locked, 1 AS rate_locked" }

// LockMigrations is a no-op: every migration runs in its own BEGIN
// IMMEDIATE transaction that re-reads the version, which serialises
// migrators across processes.
func (dialect) LockMigrations(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

func (dialect) PrepareSchema(context.Context, *sql.Conn) error { return nil }

// Analyze does nothing: the claim and batch statements pin their indexes.
func (dialect) Analyze(context.Context, *sql.DB) error { return nil }

// TableRows is 0: Analyze does nothing to skip.
func (dialect) TableRows(context.Context, *sql.DB) (int64, error) { return 0, nil }

// MapError maps modernc.org/sqlite and database/sql errors: no rows is
// ErrNotFound (callers that can name the id do so first); a busy or locked
// database after the busy timeout, I/O and open failures and a bad
// connection are ErrUnavailable; unique and primary-key violations
// ErrConflict; a closed database ErrClosed.
func (dialect) MapError(err error) error { return mapError(err) }

func mapError(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_PROTOCOL:
			return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
		case sqlite3.SQLITE_CONSTRAINT:
			if isUnique(se) {
				return fmt.Errorf("%w: %w", domain.ErrConflict, err)
			}
		}
		return err
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", domain.ErrNotFound, err)
	case errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	case strings.Contains(err.Error(), "sql: database is closed"):
		return fmt.Errorf("%w: %w", domain.ErrClosed, err)
	}
	return err
}

func isUnique(se *sqlite.Error) bool {
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Retryable is false: the single writer never deadlocks and a busy error
// has already waited the busy timeout.
func (dialect) Retryable(error) bool { return false }

func (dialect) UniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && isUnique(se)
}

func (dialect) UndefinedTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}
