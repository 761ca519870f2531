package pgxstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/domain"
)

// dialect is the PostgreSQL side of the sqlstore seam: text[] arrays and
// unnest row sets, timestamptz, row locks with SKIP LOCKED, and advisory
// locks for function limits and migrations. schema is the unquoted schema
// name all tables live in.
type dialect struct {
	schema string
}

var _ sqlstore.Dialect = dialect{}

func (dialect) Name() string               { return "postgres" }
func (dialect) Rebind(q string) string     { return sqlstore.RebindDollar(q) }
func (d dialect) TablePrefix() string      { return quoteIdent(d.schema) + "." }
func (dialect) EncodeTime(t time.Time) any { return t.UTC() }
func (dialect) ForUpdate() string          { return " FOR UPDATE" }
func (dialect) SerialWrites() bool         { return false }

// ValuesRows: unnest over one array per column is already cheap.
func (dialect) ValuesRows(int) int          { return 0 }
func (dialect) ForUpdateSkipLocked() string { return " FOR UPDATE SKIP LOCKED" }
func (dialect) WritableCTEs() bool          { return true }
func (dialect) LiteralLimits() bool         { return true }
func (dialect) ForShare() string            { return " FOR SHARE" }
func (dialect) IndexedBy(string) string     { return "" }

// Unindexed hides a text column from the planner: once statistics say
// almost no task is running, PostgreSQL would otherwise drive a batched
// fenced update by the state index and probe it once per row (seconds
// per batch on a large table), instead of by the primary key.
func (dialect) Unindexed(col string) string { return "(" + col + " || '')" }

func (dialect) SchemaTypes() map[string]string {
	return map[string]string{"time": "TIMESTAMPTZ", "bytes": "BYTEA", "float": "DOUBLE PRECISION"}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (dialect) StringList(v []string) any {
	if v == nil {
		v = []string{}
	}
	return v
}

func (dialect) InList(expr string) string { return expr + " = ANY(?::text[])" }

func (dialect) TagsOverlap(col string) string {
	return "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + col + "::jsonb) AS tag(v) WHERE tag.v = ANY(?::text[]))"
}

// TextContains folds ASCII letters only (translate), as SQLite's LIKE
// does, so both databases match the same rows; LIKE itself is case
// sensitive here.
func (dialect) TextContains(col string, bytes bool) string {
	expr := col
	if bytes {
		expr = "convert_from(" + col + ", 'UTF8')"
	}
	return "translate(" + expr + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE ? ESCAPE '\\'"
}

var pgArrayTypes = map[sqlstore.ColType]string{
	sqlstore.ColText: "text[]", sqlstore.ColBytes: "bytea[]", sqlstore.ColTime: "timestamptz[]", sqlstore.ColInt: "bigint[]",
}

// RowSet is unnest over one array argument per column.
func (dialect) RowSet(alias string, cols []sqlstore.Column) string {
	var args, names []string
	for _, c := range cols {
		args = append(args, "?::"+pgArrayTypes[c.Type])
		names = append(names, c.Name)
	}
	return "unnest(" + strings.Join(args, ", ") + ") AS " + alias + "(" + strings.Join(names, ", ") + ")"
}

func (dialect) RowSetArgs(cols []sqlstore.Column, rows [][]any) []any {
	out := make([]any, len(cols))
	for j, c := range cols {
		switch c.Type {
		case sqlstore.ColText:
			a := make([]*string, len(rows))
			for i, r := range rows {
				if s, ok := r[j].(string); ok {
					a[i] = &s
				}
			}
			out[j] = a
		case sqlstore.ColBytes:
			a := make([][]byte, len(rows))
			for i, r := range rows {
				if b, ok := r[j].([]byte); ok {
					a[i] = b
				}
			}
			out[j] = a
		case sqlstore.ColTime:
			a := make([]*time.Time, len(rows))
			for i, r := range rows {
				if t, ok := r[j].(time.Time); ok {
					a[i] = &t
				}
			}
			out[j] = a
		case sqlstore.ColInt:
			a := make([]int64, len(rows))
			for i, r := range rows {
				a[i], _ = r[j].(int64)
			}
			out[j] = a
		}
	}
	return out
}

// lockKey derives a 64-bit advisory lock key from the schema and a name.
func (d dialect) lockKey(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("stent\x00" + kind + "\x00" + d.schema + "\x00" + name))
	return int64(h.Sum64())
}

// LockFunctions takes pg_advisory_xact_lock per limited function, in the
// sorted order of names, so concurrent claimers serialise per function
// and never deadlock.
func (d dialect) LockFunctions(ctx context.Context, tx *sql.Tx, names []string) error {
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, d.lockKey("function", n)); err != nil {
			return err
		}
	}
	return nil
}

// flowLockSlots is the number of advisory locks per flow-limit kind: a
// group's lock is its key's hash modulo flowLockSlots, so a claim that
// meets a thousand keys holds at most flowLockSlots locks per kind (the
// shared lock table holds max_locks_per_transaction x max_connections,
// 6,400 by default, for every transaction of the server). Groups sharing
// a slot only serialise their claimers.
const flowLockSlots = 128

// flowLockSpace is the first key of the two-key advisory locks of a
// flow-limit kind in this schema; the second is the group's slot.
func (d dialect) flowLockSpace(kind string) int32 {
	h := fnv.New32a()
	h.Write([]byte("stent\x00flow-" + kind + "\x00" + d.schema))
	return int32(h.Sum32())
}

// FlowLocks takes pg_try_advisory_xact_lock(space, slot) for the row's
// groups in the candidate read itself, the slot being hashtext(key) mod
// flowLockSlots, computed by the server (so every claimer maps a key to
// the same slot). Groups are met in claim order, not sorted, so waiting
// for them could deadlock two claimers: a group another claimer holds is
// skipped instead, as FOR UPDATE SKIP LOCKED skips its rows. Only the rows
// the read returns are locked (the caller evaluates this over the read
// as a subquery); a reclaim needs no lock (it is not admitted again).
func (d dialect) FlowLocks(a string) string {
	slot := func(col string) string {
		return "hashtext(" + a + "." + col + ") & " + strconv.Itoa(flowLockSlots-1)
	}
	return "CASE WHEN " + a + ".max_concurrent > 0 AND " + a + ".concurrency_key <> '' AND " + a + ".source <> 1" +
		" THEN pg_try_advisory_xact_lock(" + strconv.Itoa(int(d.flowLockSpace("concurrency"))) + ", " + slot("concurrency_key") + ")" +
		" ELSE true END AS key_locked, CASE WHEN " + a + ".rate_limit > 0 AND " + a + ".source = 0" +
		" THEN pg_try_advisory_xact_lock(" + strconv.Itoa(int(d.flowLockSpace("rate"))) + ", " + slot("rate_key") + ")" +
		" ELSE true END AS rate_locked"
}

// LockMigrations holds a session advisory lock on conn until unlock.
func (d dialect) LockMigrations(ctx context.Context, conn *sql.Conn) (func(), error) {
	key := d.lockKey("migrate", "")
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key)
	}, nil
}

// PrepareSchema creates the store's schema if it is missing.
func (d dialect) PrepareSchema(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoteIdent(d.schema))
	return err
}

// Analyze refreshes the statistics of the tables that grow with the work.
// Every column: an ANALYZE restricted to the filtered columns was a third
// of the cost, but W1 on PostgreSQL ran 25% slower after it (features/084).
func (d dialect) Analyze(ctx context.Context, db *sql.DB) error {
	p := d.TablePrefix()
	_, err := db.ExecContext(ctx, `ANALYZE `+p+`tasks, `+p+`executions`)
	return err
}

// TableRows reads pg_class.reltuples of the two tables (-1, never
// analyzed, counts as 0).
func (d dialect) TableRows(ctx context.Context, db *sql.DB) (int64, error) {
	p := d.TablePrefix()
	var n int64
	err := db.QueryRowContext(ctx, `SELECT GREATEST(COALESCE(MAX(reltuples), 0), 0)::bigint FROM pg_class
 WHERE oid IN (to_regclass($1), to_regclass($2))`, p+"tasks", p+"executions").Scan(&n)
	return n, err
}

func (dialect) MapError(err error) error { return mapError(err) }

// rejectedData are the data exceptions PostgreSQL raises for a value it
// cannot keep: the ports validators refuse such input first, with a
// message naming the field; this is the safety net for anything they
// miss, so bad input is ErrInvalidArgument (400) and never a 500.
var rejectedData = map[string]bool{
	"22021": true, // character_not_in_repertoire: NUL byte, invalid UTF-8
	"22P05": true, // untranslatable_character: \u0000 in jsonb
	"22003": true, // numeric_value_out_of_range: beyond int4
	"22001": true, // string_data_right_truncation: too long
}

// mapError maps pgx and database/sql errors: no rows is ErrNotFound
// (callers that can name the id do so first); connection failures, lost
// connections and a server shutting down are ErrUnavailable; a closed pool
// or database is ErrClosed; a unique violation is ErrConflict; data
// PostgreSQL cannot keep (rejectedData) is ErrInvalidArgument.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", domain.ErrNotFound, err)
	}
	if strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("%w: %w", domain.ErrClosed, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "53300": // too many connections
			return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
		case pgErr.Code == "23505":
			return fmt.Errorf("%w: %w", domain.ErrConflict, err)
		case rejectedData[pgErr.Code]:
			return fmt.Errorf("%w: %w", domain.ErrInvalidArgument, err)
		}
		return err
	}
	if errors.Is(err, puddle.ErrClosedPool) {
		return fmt.Errorf("%w: %w", domain.ErrClosed, err)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset") {
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	return err
}

// Retryable: deadlock_detected and serialization_failure abort the whole
// transaction, which may simply run again.
func (dialect) Retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

func (dialect) UniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func (dialect) UndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000")
}
