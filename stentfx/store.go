package stentfx

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
)

// DefaultDSN is the embedded default: a SQLite file in the working
// directory.
const DefaultDSN = "stent.sqlite"

// Backend is the kind of store a DSN selects.
type Backend string

// Backends.
const (
	BackendSQLite   Backend = "sqlite"
	BackendPostgres Backend = "postgres"
)

// StoreOptions says how to open a store.
type StoreOptions struct {
	// ReadOnly opens SQLite read-only: a missing file is an error and
	// nothing is created or migrated. PostgreSQL ignores it.
	ReadOnly bool
	// NoAutoMigrate fails on an older schema instead of migrating it.
	NoAutoMigrate bool
	// Schema is the PostgreSQL schema; "" means the first entry of the
	// DSN's search_path parameter (see SchemaFromDSN), else public.
	Schema string
}

// ParseDSN says which backend a DSN selects: postgres:// or postgresql://
// is PostgreSQL; sqlite://path or a bare path is SQLite; any other scheme
// is an ErrInvalidArgument naming it. The DSN is never matched by
// substring.
func ParseDSN(dsn string) (Backend, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return "", domain.InvalidArgument("database DSN is empty; want a SQLite path, sqlite://path or postgres://...")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return BackendPostgres, nil
	case strings.HasPrefix(dsn, "sqlite://"), strings.HasPrefix(dsn, "sqlite:"):
		return BackendSQLite, nil
	}
	if i := strings.Index(dsn, "://"); i > 0 && !strings.ContainsAny(dsn[:i], `/\.`) {
		return "", domain.InvalidArgument("database DSN scheme %q is not supported; want postgres://, postgresql://, sqlite:// or a file path", dsn[:i])
	}
	return BackendSQLite, nil
}

// MaskDSN hides the password of a DSN for logs and errors.
func MaskDSN(dsn string) string {
	if b, err := ParseDSN(dsn); err == nil && b == BackendPostgres {
		return pgxstore.MaskDSN(dsn)
	}
	return dsn
}

// OpenStore opens the store a DSN names (see ParseDSN). Errors name the DSN
// with its password masked.
func OpenStore(ctx context.Context, dsn string, o StoreOptions) (MigratingStore, error) {
	backend, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	switch backend {
	case BackendPostgres:
		schema := o.Schema
		if schema == "" {
			schema = SchemaFromDSN(dsn)
		}
		st, err := pgxstore.Open(ctx, dsn, pgxstore.Config{Schema: schema, NoAutoMigrate: o.NoAutoMigrate || o.ReadOnly})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", MaskDSN(dsn), err)
		}
		return st, nil
	default:
		cfg := sqlitestore.Config{Path: dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			if cfg, err = sqlitestore.ParseDSN(dsn); err != nil {
				return nil, err
			}
		}
		cfg.ReadOnly = cfg.ReadOnly || o.ReadOnly
		cfg.NoAutoMigrate = o.NoAutoMigrate || o.ReadOnly
		st, err := sqlitestore.Open(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dsn, err)
		}
		return st, nil
	}
}

// SchemaFromDSN returns the schema a PostgreSQL DSN selects with its
// search_path parameter: the first entry, unquoted ("" when there is none,
// or when it is a variable such as $user). pgx also sends the parameter to
// the server, so the store and unqualified SQL see the same schema.
func SchemaFromDSN(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(cfg.RuntimeParams["search_path"], ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	if strings.HasPrefix(first, "$") {
		return ""
	}
	return first
}
