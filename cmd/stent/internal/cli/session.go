package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/stentfx"
)

// openMode says how a command opens the store.
type openMode int

const (
	// readOnly never creates, never migrates (SQLite opens mode=ro).
	readOnly openMode = iota
	// readWrite writes to an existing, current schema; an older one is
	// ErrSchemaVersion telling to run `stent migrate`.
	readWrite
	// migrating creates the database if needed and upgrades its schema;
	// only `stent migrate` uses it.
	migrating
)

// open opens the store once for a command. Errors name the DSN with its
// password masked; a bad DSN is a usage error; a missing SQLite file is
// `database "x" not found` and nothing is created.
func (r *runner) open(ctx context.Context, mode openMode) (stentfx.MigratingStore, error) {
	dsn := r.dsn()
	backend, err := stentfx.ParseDSN(dsn)
	if err != nil {
		return nil, usageError(err)
	}
	var opts stentfx.StoreOptions
	switch mode {
	case readOnly:
		opts.ReadOnly = true
	case readWrite:
		opts.NoAutoMigrate = true
	}
	// PostgreSQL: stentfx takes the schema from the DSN's search_path.
	if backend == stentfx.BackendSQLite && mode != migrating {
		path, err := sqlitePath(dsn)
		if err != nil {
			return nil, usageError(err)
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("database %q not found", path)
		}
	}
	st, err := r.env.OpenStore(ctx, dsn, opts)
	if err != nil {
		masked := stentfx.MaskDSN(dsn)
		switch {
		case backend == stentfx.BackendSQLite && errors.Is(err, domain.ErrNotFound):
			path, _ := sqlitePath(dsn)
			return nil, fmt.Errorf("database %q not found", path)
		case errors.Is(err, domain.ErrSchemaVersion):
			return nil, err
		case errors.Is(err, domain.ErrInvalidArgument):
			return nil, usageError(err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("open %s: %w", masked, ctx.Err())
		}
		if !strings.Contains(r.message(err), masked) {
			err = fmt.Errorf("open %s: %w", masked, err)
		}
		return nil, err
	}
	return st, nil
}

// withStore opens the store, runs fn and closes the store on every path.
func (r *runner) withStore(ctx context.Context, mode openMode, fn func(st stentfx.MigratingStore) error) (err error) {
	st, err := r.open(ctx, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", stentfx.MaskDSN(r.dsn()), cerr)
		}
	}()
	return fn(st)
}

// withEngine is withStore plus an engine with an empty registry over the
// store (it dispatches by the catalogue workers publish), closed before
// the store.
func (r *runner) withEngine(ctx context.Context, mode openMode, fn func(eng *app.Engine, st stentfx.MigratingStore) error) error {
	return r.withStore(ctx, mode, func(st stentfx.MigratingStore) error {
		// The configured notifier (STENT_REDIS_URL, STENT_NOTIFIER, or
		// LISTEN/NOTIFY on PostgreSQL) lets workers in other processes hear
		// this command's dispatch, cancel, signal or replay at once.
		notifier, err := stentfx.NewNotifier(stentfx.Config{DB: r.dsn(),
			RedisURL: r.env.Getenv("STENT_REDIS_URL"), Notifier: r.env.Getenv("STENT_NOTIFIER")}, nil)
		if err != nil {
			return err
		}
		defer func() { _ = notifier.Close() }()
		eng, err := app.New(app.Deps{Store: st, Registry: app.NewRegistry(), Clock: r.env.Clock, Notifier: notifier},
			app.Config{PollIntervalMax: time.Second})
		if err != nil {
			return err
		}
		defer func() { _ = eng.Close() }()
		return fn(eng, st)
	})
}

// sqlitePath returns the file a SQLite DSN names.
func sqlitePath(dsn string) (string, error) {
	if strings.HasPrefix(dsn, "sqlite:") {
		cfg, err := sqlitestore.ParseDSN(dsn)
		if err != nil {
			return "", err
		}
		return cfg.Path, nil
	}
	return dsn, nil
}

// scrubPassword replaces the DSN's password, wherever it appears in msg.
func scrubPassword(msg, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return msg
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		if esc := url.QueryEscape(pw); esc != pw {
			msg = strings.ReplaceAll(msg, esc, "xxxxx")
		}
	}
	return msg
}
