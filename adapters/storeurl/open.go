package storeurl

import (
	"context"
	"fmt"
	"strings"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/ports"
)

// Store is a store with a versioned schema: both SQL stores.
type Store interface {
	ports.Store
	ports.Migrator
	ports.Inspector
}

// Options says how to open a store.
type Options struct {
	// ReadOnly opens SQLite read-only: a missing file is an error and
	// nothing is created or migrated. PostgreSQL is then never migrated.
	ReadOnly bool
	// Snapshot, with ReadOnly, opens SQLite without creating the -wal and
	// -shm files beside it (see sqlitestore.Config.Snapshot): for one-shot
	// reads, not live views.
	Snapshot bool
	// AnySchema, with ReadOnly, opens the database whatever its schema
	// version, even an empty one, so Migrator.SchemaVersion can report it.
	AnySchema bool
	// NoAutoMigrate fails on an older schema instead of migrating it.
	NoAutoMigrate bool
	// Schema is the PostgreSQL schema; "" means the first entry of the
	// value's search_path parameter (see SchemaOf), else public.
	Schema string
	// Lazy opens PostgreSQL without reaching the server: every call fails
	// with ErrUnavailable until Connect succeeds (see pgxstore.Config.Lazy).
	// SQLite opens a local file and needs no deferral: it is opened (and
	// migrated) at once either way.
	Lazy bool
}

// Open opens the store raw names (see Parse). Errors name the value with
// its password masked; a value Parse rejects is ErrInvalidArgument.
func Open(ctx context.Context, raw string, o Options) (Store, error) {
	backend, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	v := strings.TrimSpace(raw)
	if backend == Postgres {
		schema := o.Schema
		if schema == "" {
			schema = SchemaOf(v)
		}
		st, err := pgxstore.Open(ctx, v, pgxstore.Config{Schema: schema, NoAutoMigrate: o.NoAutoMigrate || o.ReadOnly,
			AnySchema: o.ReadOnly && o.AnySchema, Lazy: o.Lazy})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", Mask(v), err)
		}
		return st, nil
	}
	cfg := sqlitestore.Config{Path: v}
	if strings.HasPrefix(v, "sqlite:") {
		if cfg, err = sqlitestore.ParseDSN(v); err != nil {
			return nil, err
		}
	}
	cfg.ReadOnly = cfg.ReadOnly || o.ReadOnly
	cfg.Snapshot = cfg.ReadOnly && o.Snapshot
	cfg.AnySchema = cfg.ReadOnly && o.AnySchema
	cfg.NoAutoMigrate = cfg.NoAutoMigrate || o.NoAutoMigrate || o.ReadOnly
	st, err := sqlitestore.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", v, err)
	}
	return st, nil
}
