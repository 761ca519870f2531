// Package pgxstore is the PostgreSQL store: github.com/jackc/pgx/v5
// through a pgxpool.Pool, used via database/sql (stdlib.OpenDBFromPool) so
// the SQL core in package sqlstore serves SQLite and PostgreSQL alike. pgx
// caches prepared statements per connection. All tables live in one schema
// (Config.Schema, default "public"), created if missing.
//
// A store can open before its database answers (Config.Lazy): the pool
// does not dial until asked, every call fails with ErrUnavailable until
// Connect has reached the server and readied the schema, and then the same
// store serves. Nothing forwards calls by hand: the gate sits where
// database/sql opens a connection.
package pgxstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

var (
	_ ports.Store    = (*Store)(nil)
	_ ports.Migrator = (*Store)(nil)
)

// Config configures New and Open. A zero Config works.
type Config struct {
	// Schema holds every table; "" means "public". It is created if
	// missing.
	Schema string
	// NoAutoMigrate makes New/Open (or Connect) fail with ErrSchemaVersion
	// on a database older than the code instead of migrating it (run
	// `stent migrate`).
	NoAutoMigrate bool
	// AnySchema connects whatever the schema's version, even an empty or
	// missing schema, and never migrates, so that SchemaVersion can report
	// it (`stent migrate --status`); the other methods need a current
	// schema.
	AnySchema bool
	// Lazy makes New and Open return without reaching the server: every
	// call then fails with ErrUnavailable until Connect succeeds, so a
	// service can start (and answer its health checks) before its
	// database. Without it, New and Open connect before they return.
	Lazy bool
}

// Store is the PostgreSQL implementation of ports.Store and
// ports.Migrator.
type Store struct {
	*sqlstore.Store
	pool   *pgxpool.Pool
	schema string
	cfg    Config
	masked string

	connectMu sync.Mutex    // serialises Connect
	ready     atomic.Bool   // Connect succeeded: connections may open
	closed    atomic.Bool   // Close ran
	connected chan struct{} // closed once ready
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the tables live in.
func (s *Store) Schema() string { return s.schema }

// New returns a store over pool, which the caller keeps owning (Close
// does not close it). It checks the server answers and migrates (or, with
// NoAutoMigrate, checks) the schema; with Lazy, Connect does that later.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("pool is nil"))
	}
	return newStore(ctx, pool, cfg, false, MaskDSN(pool.Config().ConnString()))
}

// Open builds a pool from dsn (a postgres:// URL or key=value string) and
// returns a store that owns it: Close closes the pool. An empty or
// malformed DSN is ErrInvalidArgument, an unreachable server
// ErrUnavailable; both name the DSN with its password masked. With Lazy
// the server is not reached: only the DSN is checked, and Connect does the
// rest.
func Open(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument(
			"PostgreSQL DSN is empty; want e.g. postgres://user:password@host:5432/db or host=... user=... dbname=..."))
	}
	masked := MaskDSN(dsn)
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("malformed PostgreSQL DSN %q: %s", masked, maskIn(err.Error(), dsn)))
	}
	// The pool dials only when a connection is first asked for.
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("PostgreSQL DSN %q: %s", masked, maskIn(err.Error(), dsn)))
	}
	return newStore(ctx, pool, cfg, true, masked)
}

// newStore builds the store over pool; unless cfg.Lazy it connects it
// before returning (closing it, and an owned pool, on failure).
func newStore(ctx context.Context, pool *pgxpool.Pool, cfg Config, ownPool bool, masked string) (*Store, error) {
	schema := cfg.Schema
	if schema == "" {
		schema = "public"
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		if ownPool {
			pool.Close()
		}
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("schema %q: want 1 to 63 bytes without NUL", schema))
	}
	s := &Store{pool: pool, schema: schema, cfg: cfg, masked: masked, connected: make(chan struct{})}
	db := sql.OpenDB(gatedConnector{Connector: stdlib.GetPoolConnector(pool), s: s})
	// As stdlib.OpenDBFromPool does: idle connections go back to the pool,
	// never sit in database/sql starving the pool's direct users.
	db.SetMaxIdleConns(0)
	core, err := sqlstore.New(sqlstore.Options{
		Name: "pgxstore", Dialect: dialect{schema: schema}, Write: db, Read: db,
		OnClose: func() error {
			s.closed.Store(true)
			err := db.Close()
			if ownPool {
				pool.Close()
			}
			return err
		},
	})
	if err != nil {
		_ = db.Close()
		if ownPool {
			pool.Close()
		}
		return nil, err
	}
	s.Store = core
	if cfg.Lazy {
		return s, nil
	}
	if err := s.Connect(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Connect readies a store opened with Lazy: it checks the server answers
// (ErrUnavailable if not, naming the DSN with its password masked),
// migrates the schema (with NoAutoMigrate, checks it: ErrSchemaVersion
// when older) and from then on lets every call through. It makes one
// attempt; retry it with backoff while it fails with ErrUnavailable. It is
// a no-op on a connected store and ErrClosed after Close.
//
// The schema is readied through database handles of its own, so no call
// made meanwhile sees a half-migrated schema: those keep failing with
// ErrUnavailable until Connect returns.
func (s *Store) Connect(ctx context.Context) error {
	s.connectMu.Lock()
	defer s.connectMu.Unlock()
	switch {
	case s.closed.Load():
		return fmt.Errorf("pgxstore: %w", domain.ErrClosed)
	case s.ready.Load():
		return nil
	}
	if err := s.pool.Ping(ctx); err != nil {
		if s.closed.Load() {
			return fmt.Errorf("pgxstore: closed while connecting: %w", domain.ErrClosed)
		}
		return fmt.Errorf("pgxstore: PostgreSQL at %q is unreachable: %w", s.masked, ensureUnavailable(mapError(err)))
	}
	db := stdlib.OpenDBFromPool(s.pool)
	migrator, err := sqlstore.New(sqlstore.Options{Name: "pgxstore", Dialect: dialect{schema: s.schema}, Write: db, Read: db, OnClose: db.Close})
	if err != nil {
		_ = db.Close()
		return err
	}
	if !s.cfg.AnySchema {
		err = migrator.EnsureSchema(ctx, !s.cfg.NoAutoMigrate)
	}
	_ = migrator.Close()
	switch {
	case s.closed.Load():
		return fmt.Errorf("pgxstore: closed while connecting: %w", domain.ErrClosed)
	case err != nil:
		return fmt.Errorf("%w (schema %q)", err, s.schema)
	}
	s.ready.Store(true)
	close(s.connected)
	return nil
}

// Connected is closed once the store is connected: at once for a store
// opened without Lazy, after Connect succeeds for a lazy one.
func (s *Store) Connected() <-chan struct{} { return s.connected }

// gatedConnector refuses to open connections until the store is
// connected, so every call before that fails with ErrUnavailable without
// touching the server.
type gatedConnector struct {
	driver.Connector
	s *Store
}

// Connect implements driver.Connector.
func (c gatedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if !c.s.ready.Load() {
		return nil, fmt.Errorf("pgxstore: PostgreSQL at %q is not connected yet: %w", c.s.masked, domain.ErrUnavailable)
	}
	return c.Connector.Connect(ctx)
}

// ensureUnavailable makes sure a failed ping matches ErrUnavailable (an
// authentication failure, say, is still "cannot reach the database").
func ensureUnavailable(err error) error {
	if errors.Is(err, domain.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
}

var (
	// A key=value password is quoted ('a b', with \' inside) or bare with
	// backslash escapes (a\ b), as libpq and pgconn read it.
	kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)*)`)
	urlUserPwd = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)([^@]*)(@)`)
)

// MaskDSN returns dsn with its password replaced by "xxxxx", for messages
// and logs: the userinfo password of a URL, the password= key of a
// key=value string and a password query parameter.
func MaskDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" || strings.Contains(dsn, "://") {
		if err == nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
			q := u.Query()
			if q.Has("password") {
				q.Set("password", "xxxxx")
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
		return urlUserPwd.ReplaceAllString(kvPassword.ReplaceAllString(dsn, "${1}xxxxx"), "${1}xxxxx${3}")
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// maskIn removes the password of dsn from a driver message.
func maskIn(msg, dsn string) string {
	if pw := passwordOf(dsn); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}

func passwordOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return pw
		}
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	if m := urlUserPwd.FindStringSubmatch(dsn); m != nil {
		return m[2]
	}
	return ""
}
