// Package sqlstore is the SQL core shared by sqlitestore and pgxstore: the
// schema and its migrations, every statement, row mapping, JSON and time
// encoding and error wrapping. What must differ between databases sits
// behind the small Dialect seam; the two adapter packages hold only
// connection code and their Dialect.
//
// Statements are written with `?` placeholders and `@table` names; the
// dialect rebinds placeholders and prefixes table names (a PostgreSQL
// schema). Times are normalised to UTC microseconds before they are
// written; JSON payloads are stored byte for byte.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

var (
	_ ports.Store     = (*Store)(nil)
	_ ports.Inspector = (*Store)(nil)
	_ ports.Migrator  = (*Store)(nil)
)

// Options configures a Store over open database handles.
type Options struct {
	// Name prefixes every error message, e.g. "sqlitestore".
	Name    string
	Dialect Dialect
	// Write runs every write transaction. For SQLite it has exactly one
	// connection whose transactions begin IMMEDIATE.
	Write *sql.DB
	// Read serves reads; nil means Write.
	Read *sql.DB
	// ReadOnly makes every write fail without touching the database.
	ReadOnly bool
	// OnClose releases the handles (and whatever owns them) on Close.
	OnClose func() error
	// CacheStatements keeps the statements of write transactions prepared
	// on Write (for drivers without a statement cache of their own, like
	// modernc.org/sqlite; pgx caches statements itself).
	CacheStatements bool
	// AfterWrite, when set, is called after every committed write (a
	// write transaction, or a single statement outside one); SQLite: it
	// wakes the background WAL checkpointer. It must not block.
	AfterWrite func()
}

// Store implements ports.Store and ports.Migrator over database/sql.
type Store struct {
	name     string
	d        Dialect
	w, r     *sql.DB
	readOnly bool
	onClose  func() error
	// afterWrite: Options.AfterWrite.
	afterWrite func()

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	queries sync.Map // raw statement -> dialect statement
	stmts   *stmtCache
	growth  growth
	limits  limitHints
	// slowClaims: the last claims met candidates that need the claim
	// transaction, so claims skip claimAlone (claim_alone.go).
	slowClaims atomic.Bool
}

// New returns a Store over the handles in opts. It does not touch the
// database; call EnsureSchema or Migrate before use.
func New(opts Options) (*Store, error) {
	if opts.Dialect == nil || opts.Write == nil && opts.Read == nil {
		return nil, errors.New("sqlstore: Options needs a Dialect and a database handle")
	}
	if opts.Name == "" {
		opts.Name = "sqlstore"
	}
	if opts.Read == nil {
		opts.Read = opts.Write
	}
	s := &Store{
		name:     opts.Name,
		d:        opts.Dialect,
		w:        opts.Write,
		r:        opts.Read,
		readOnly: opts.ReadOnly || opts.Write == nil,
		onClose:  opts.OnClose,

		afterWrite: opts.AfterWrite,
	}
	s.growth.ctx, s.growth.cancel = context.WithCancel(context.Background())
	if opts.CacheStatements && opts.Write != nil {
		s.stmts = newStmtCache(opts.Write)
	}
	return s, nil
}

// Close releases the connections; later calls return ErrClosed. It is
// idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.growth.mu.Lock()
		s.growth.cancel()
		s.growth.mu.Unlock()
		s.growth.wg.Wait()
		if s.stmts != nil {
			s.stmts.close()
		}
		if s.onClose != nil {
			s.closeErr = s.onClose()
		}
	})
	return s.closeErr
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.r.PingContext(ctx); err != nil {
		return s.wrap(err, "ping")
	}
	return nil
}

// check returns ErrClosed after Close.
func (s *Store) check() error {
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", s.name, domain.ErrClosed)
	}
	return nil
}

// errorf builds an error with the store prefix.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf(s.name+": "+format, args...)
}

// invalid returns an ErrInvalidArgument naming the bad value.
func (s *Store) invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", s.name, domain.InvalidArgument(format, args...))
}

// valid prefixes the error of a ports validator (nil stays nil).
func (s *Store) valid(err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// notFound returns ErrNotFound naming what is missing.
func (s *Store) notFound(what, id string) error {
	return fmt.Errorf("%s: %s %q: %w", s.name, what, id, domain.ErrNotFound)
}

// wrap maps a driver error and prefixes it with the operation.
func (s *Store) wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && !isContextError(err) {
		if !errors.Is(err, domain.ErrClosed) {
			return fmt.Errorf("%s: %s: %w (%v)", s.name, op, domain.ErrClosed, err)
		}
	}
	if isPortError(err) || isContextError(err) {
		if strings.HasPrefix(err.Error(), s.name+": ") {
			return err
		}
		return fmt.Errorf("%s: %s: %w", s.name, op, err)
	}
	if strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("%s: %s: %w", s.name, op, domain.ErrClosed)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, s.d.MapError(err))
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isPortError reports errors that already carry a port sentinel.
func isPortError(err error) bool {
	for _, s := range []error{
		domain.ErrNotFound, domain.ErrLeaseLost, domain.ErrConflict, domain.ErrInvalidTransition,
		domain.ErrExecutionFinished, domain.ErrInvalidArgument, domain.ErrUnavailable,
		domain.ErrClosed, domain.ErrSchemaVersion,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// q returns the dialect form of a statement (tables prefixed, placeholders
// rebound), cached.
func (s *Store) q(raw string) string {
	if v, ok := s.queries.Load(raw); ok {
		return v.(string)
	}
	out := s.d.Rebind(strings.ReplaceAll(raw, "@", s.d.TablePrefix()))
	s.queries.Store(raw, out)
	return out
}

// txn is one write transaction.
type txn struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	write bool
}

func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	q := t.s.q(query)
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

func (t *txn) query(query string, args ...any) (*sql.Rows, error) {
	q := t.s.q(query)
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *txn) queryRow(query string, args ...any) *sql.Row {
	q := t.s.q(query)
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// stmt returns the cached statement of q bound to this write
// transaction, or nil (q is then prepared after the transaction).
func (t *txn) stmt(q string) *sql.Stmt {
	if !t.write || t.s.stmts == nil {
		return nil
	}
	st := t.s.stmts.get(q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}

// execN runs a statement and returns the number of affected rows.
func (t *txn) execN(query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// maxTxAttempts bounds the retries of a transaction after a transient
// conflict (deadlock, serialisation failure).
const maxTxAttempts = 10

// write runs fn in a write transaction, retrying it after transient
// conflicts. op names the operation in errors. fn's errors that already
// carry a port sentinel are returned as they are.
func (s *Store) write(ctx context.Context, op string, fn func(t *txn) error) error {
	if err := s.writable(op); err != nil {
		return err
	}
	err := s.retrying(ctx, func() error { return s.runTx(ctx, s.w, nil, fn) })
	if s.stmts != nil {
		s.stmts.preparePending(ctx) // the writer connection is free again
	}
	if err == nil {
		s.wrote()
	}
	return s.wrap(err, op)
}

// wrote calls Options.AfterWrite after a committed write: a write
// transaction, or one of the single statements that run outside one.
func (s *Store) wrote() {
	if s.afterWrite != nil {
		s.afterWrite()
	}
}

// writable reports why op cannot write (closed, or open read-only).
func (s *Store) writable(op string) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.readOnly {
		return s.errorf("%s: %w", op, domain.InvalidArgument("the store is open read-only; %s writes", op))
	}
	return nil
}

// retrying runs fn (a transaction, or one statement outside a
// transaction, atomic on its own) and runs it again after a transient
// conflict or a claim restart, up to maxTxAttempts times.
func (s *Store) retrying(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = fn()
		if err == nil || !(s.d.Retryable(err) || errors.Is(err, errRetryClaim)) || ctx.Err() != nil {
			break
		}
	}
	return err
}

// read runs fn in a read-only transaction on the read pool, for reads that
// need one consistent snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(t *txn) error) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.wrap(s.runTx(ctx, s.r, &sql.TxOptions{ReadOnly: true}, fn), op)
}

func (s *Store) runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(t *txn) error) (err error) {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(&txn{s: s, ctx: ctx, tx: tx, write: opts == nil}); err != nil {
		return err
	}
	return tx.Commit()
}

// queryRows runs a read on the read pool.
func (s *Store) queryRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.r.QueryContext(ctx, s.q(query), args...)
}

// queryRow runs a one-row read on the read pool.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.r.QueryRowContext(ctx, s.q(query), args...)
}

// errLeaseLost reports a fence mismatch for a task.
func (s *Store) errLeaseLost(f domain.Fence) error {
	return fmt.Errorf("%s: task %q (worker %q): %w", s.name, f.TaskID, f.WorkerID, domain.ErrLeaseLost)
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := domain.NormalizeTime(*t)
	return &n
}
