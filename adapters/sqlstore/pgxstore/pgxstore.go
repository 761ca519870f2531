// Package pgxstore is the PostgreSQL store: github.com/jackc/pgx/v5
// through a pgxpool.Pool, used via database/sql (stdlib.OpenDBFromPool) so
// the SQL core in package sqlstore serves SQLite and PostgreSQL alike. pgx
// caches prepared statements per connection. All tables live in one schema
// (Config.Schema, default "public"), created if missing.
package pgxstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

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
	// NoAutoMigrate makes New/Open fail with ErrSchemaVersion on a
	// database older than the code instead of migrating it (run
	// `stent migrate`).
	NoAutoMigrate bool
}

// Store is the PostgreSQL implementation of ports.Store and
// ports.Migrator.
type Store struct {
	*sqlstore.Store
	pool   *pgxpool.Pool
	schema string
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the tables live in.
func (s *Store) Schema() string { return s.schema }

// New returns a store over pool, which the caller keeps owning (Close
// does not close it). It checks the server answers and migrates (or, with
// NoAutoMigrate, checks) the schema.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("pool is nil"))
	}
	return newStore(ctx, pool, cfg, false, MaskDSN(pool.Config().ConnString()))
}

// Open builds a pool from dsn (a postgres:// URL or key=value string) and
// returns a store that owns it: Close closes the pool. An empty or
// malformed DSN is ErrInvalidArgument, an unreachable server
// ErrUnavailable; both name the DSN with its password masked.
func Open(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument(
			"PostgreSQL DSN is empty; want e.g. postgres://user:password@host:5432/db"))
	}
	masked := MaskDSN(dsn)
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("malformed PostgreSQL DSN %q: %s", masked, maskIn(err.Error(), dsn)))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("PostgreSQL DSN %q: %s", masked, maskIn(err.Error(), dsn)))
	}
	s, err := newStore(ctx, pool, cfg, true, masked)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newStore(ctx context.Context, pool *pgxpool.Pool, cfg Config, ownPool bool, masked string) (*Store, error) {
	schema := cfg.Schema
	if schema == "" {
		schema = "public"
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		return nil, fmt.Errorf("pgxstore: %w", domain.InvalidArgument("schema %q: want 1 to 63 bytes without NUL", schema))
	}
	db := stdlib.OpenDBFromPool(pool)
	closeAll := func() error {
		err := db.Close()
		if ownPool {
			pool.Close()
		}
		return err
	}
	if err := pool.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgxstore: PostgreSQL at %q is unreachable: %w", masked, ensureUnavailable(mapError(err)))
	}
	core, err := sqlstore.New(sqlstore.Options{
		Name: "pgxstore", Dialect: dialect{schema: schema}, Write: db, Read: db, OnClose: closeAll,
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{Store: core, pool: pool, schema: schema}
	if err := core.EnsureSchema(ctx, !cfg.NoAutoMigrate); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w (schema %q)", err, schema)
	}
	return s, nil
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
	kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)
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
