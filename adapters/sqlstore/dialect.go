package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// ColType is the type of one column of a RowSet.
type ColType int

// RowSet column types.
const (
	// ColText is a string; a nil value is NULL.
	ColText ColType = iota
	// ColBytes is a []byte; a nil slice is NULL.
	ColBytes
	// ColTime is a time.Time (already normalised); nil is NULL.
	ColTime
	// ColInt is an int64.
	ColInt
)

// Column names and types one column of a RowSet.
type Column struct {
	Name string
	Type ColType
}

// Dialect is the seam between the shared SQL core and one database. The
// core writes every statement with `?` placeholders and `@table` names; the
// dialect supplies the fragments whose SQL must differ, the argument
// encodings that go with them, locking, and the error mapping of its driver.
type Dialect interface {
	// Name selects migration variants: "sqlite" or "postgres".
	Name() string
	// Rebind turns `?` placeholders into the driver's form.
	Rebind(query string) string
	// TablePrefix is prepended to every table name (e.g. `"stent".`).
	TablePrefix() string
	// SchemaTypes maps the type markers of the migration files
	// ({{time}}, {{bytes}}, {{float}}) to column types.
	SchemaTypes() map[string]string

	// EncodeTime encodes a normalised UTC time as a query argument.
	EncodeTime(t time.Time) any
	// StringList encodes a list of strings as one query argument for
	// InList and TagsOverlap.
	StringList(v []string) any
	// InList returns a condition true when expr equals one of the strings
	// of the StringList argument at its single `?`.
	InList(expr string) string
	// TagsOverlap returns a condition true when the JSON array text in col
	// shares an element with the StringList argument at its single `?`.
	TagsOverlap(col string) string
	// TextContains returns a condition true when the text of col (a
	// {{bytes}} column of UTF-8 JSON when bytes, else TEXT), with its
	// ASCII letters lowered, matches the LIKE pattern (escape `\`) at its
	// single `?` (ports.LikeContains of ports.FoldASCII text). NULL is no
	// match.
	TextContains(col string, bytes bool) string
	// RowSet returns a FROM item `(...) AS alias` with the named columns,
	// whose rows are passed as the arguments RowSetArgs returns.
	RowSet(alias string, cols []Column) string
	// RowSetArgs encodes rows (one value per column, nil for NULL) for
	// the `?` placeholders of RowSet.
	RowSetArgs(cols []Column, rows [][]any) []any

	// ValuesRows is the most rows a multi-row `VALUES (?, ...), (...)`
	// insert should carry, for a driver where that beats RowSet (SQLite:
	// RowSet decodes JSON per column); 0 means always use RowSet.
	ValuesRows(cols int) int

	// IndexedBy is appended to a table in FROM to pin the index a query
	// must walk where the planner may not find it on its own (SQLite:
	// " INDEXED BY name"; PostgreSQL: "").
	IndexedBy(index string) string
	// Unindexed wraps a column so the planner does not drive the query by
	// an index on it (SQLite: unary plus; PostgreSQL: the column).
	Unindexed(col string) string

	// WritableCTEs reports whether a statement may carry data-modifying
	// WITH clauses (PostgreSQL), so that two writes of one transaction go
	// to the server as one statement: a round trip fewer on the latency
	// path of a dispatch and a claim. SQLite runs in process, where a
	// statement costs no round trip, and has no such clauses.
	WritableCTEs() bool

	// LiteralLimits reports whether the LIMIT of a claim's candidate read
	// is written into the statement (PostgreSQL: a bound LIMIT makes its
	// cached generic plan look dearer than a fresh custom plan, so the
	// statement is planned on every run) rather than bound (SQLite: one
	// prepared statement serves every limit).
	LiteralLimits() bool

	// SerialWrites reports whether one writer serialises all writes
	// (SQLite's one write connection): a read inside a write transaction
	// then sees every committed write, and no other write commits before
	// the transaction ends.
	SerialWrites() bool
	// ForUpdate is appended to a SELECT that locks the rows it reads
	// (empty where SerialWrites).
	ForUpdate() string
	// ForUpdateSkipLocked is ForUpdate for claim candidates.
	ForUpdateSkipLocked() string
	// ForShare locks read rows against concurrent change.
	ForShare() string
	// LockFunctions takes the per-function claim locks of names (sorted,
	// distinct) inside tx, so concurrent claimers never exceed a limit.
	LockFunctions(ctx context.Context, tx *sql.Tx, names []string) error
	// FlowLocks returns the select-list items key_locked and rate_locked
	// over the candidate row alias (its concurrency_key, max_concurrent,
	// rate_key, rate_limit and source columns): each tries to take the
	// claim lock of the row's keyed concurrency group or rate group
	// without waiting, inside the candidate read (no round trip of its
	// own), and is false when another claimer holds it (the caller skips
	// the group's tasks this time). Rows that need no lock are true. A
	// dialect may map many groups to one lock to bound the locks a claim
	// holds. Where one writer serialises all writes both are always true.
	FlowLocks(alias string) string

	// Analyze refreshes the planner statistics of the growing tables
	// (PostgreSQL), so cached generic plans made while they were tiny are
	// replanned. SQLite pins its plans and does nothing.
	Analyze(ctx context.Context, db *sql.DB) error
	// TableRows is the planner's row estimate of the larger growing table
	// (tasks or executions), 0 when it has none: the store analyzes only
	// tables its own inserts have grown (growth.go). SQLite returns 0.
	TableRows(ctx context.Context, db *sql.DB) (int64, error)

	// LockMigrations serialises migrators on conn; unlock releases it.
	LockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
	// PrepareSchema runs before the migrations, under the migration lock
	// (PostgreSQL creates the schema).
	PrepareSchema(ctx context.Context, conn *sql.Conn) error

	// MapError maps a driver error to the port sentinels (ErrUnavailable,
	// ErrClosed, ErrConflict for uniqueness) by wrapping it; other errors
	// come back unchanged. It never maps "no rows": callers name the id.
	MapError(err error) error
	// Retryable reports a transient conflict (deadlock, serialisation
	// failure, busy) after which the whole transaction may be retried.
	Retryable(err error) bool
	// UniqueViolation reports a unique-constraint violation.
	UniqueViolation(err error) bool
	// UndefinedTable reports that a table does not exist.
	UndefinedTable(err error) bool
}

// rebindDollar rewrites `?` placeholders as $1, $2, ... (PostgreSQL).
// Statements never contain `?` inside literals.
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// RebindDollar is the PostgreSQL placeholder rewrite, for dialects.
func RebindDollar(q string) string { return rebindDollar(q) }
