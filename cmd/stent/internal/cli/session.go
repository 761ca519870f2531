package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stenthq/stent/adapters/localwake"
	"github.com/stenthq/stent/adapters/notifierurl"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// openMode says how a command opens the store.
type openMode int

const (
	// readOnly never creates, never migrates and never writes: SQLite is
	// read as a snapshot, without creating -wal/-shm files beside it.
	readOnly openMode = iota
	// readOnlyLive is readOnly for a view that keeps reading (watch):
	// SQLite opens mode=ro, which sees later commits but creates the
	// -wal/-shm files of a WAL database when they are missing.
	readOnlyLive
	// schemaStatus is readOnly whatever the schema's version, even an
	// empty database (migrate --status).
	schemaStatus
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
func (r *runner) open(ctx context.Context, mode openMode) (storeurl.Store, error) {
	dsn := r.dsn()
	backend, err := storeurl.Parse(dsn)
	if err != nil {
		return nil, usageError(err)
	}
	var opts storeurl.Options
	switch mode {
	case readOnly:
		opts.ReadOnly, opts.Snapshot = true, true
	case readOnlyLive:
		opts.ReadOnly = true
	case schemaStatus:
		opts.ReadOnly, opts.Snapshot, opts.AnySchema = true, true, true
	case readWrite:
		opts.NoAutoMigrate = true
	}
	// PostgreSQL: storeurl takes the schema from the DSN's search_path.
	if backend == storeurl.SQLite && mode != migrating {
		path, err := storeurl.SQLitePath(dsn)
		if err != nil {
			return nil, usageError(err)
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, r.missingDatabase(path)
		}
	}
	st, err := r.env.OpenStore(ctx, dsn, opts)
	if err != nil {
		masked := storeurl.Mask(dsn)
		switch {
		case backend == storeurl.SQLite && errors.Is(err, domain.ErrNotFound):
			path, _ := storeurl.SQLitePath(dsn)
			return nil, r.missingDatabase(path)
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

// sqlitePath is the SQLite file of the DSN in effect; ok is false for
// PostgreSQL.
func (r *runner) sqlitePath() (string, bool) {
	dsn := r.dsn()
	if b, err := storeurl.Parse(dsn); err != nil || b != storeurl.SQLite {
		return "", false
	}
	path, err := storeurl.SQLitePath(dsn)
	return path, err == nil
}

// missingDatabase is the error for a SQLite file that does not exist: it
// says where the name came from and how to give another one or create it.
func (r *runner) missingDatabase(path string) error {
	from := "the default"
	switch {
	case r.dbFlag != "":
		from = "from --db"
	case r.env.Getenv("STENT_DB") != "":
		from = "from STENT_DB"
	}
	return fmt.Errorf("database %q not found (%s); point --db or STENT_DB at an existing database, or create it with `stent migrate`", path, from)
}

// withStore opens the store, runs fn and closes the store on every path.
func (r *runner) withStore(ctx context.Context, mode openMode, fn func(st storeurl.Store) error) (err error) {
	st, err := r.open(ctx, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", storeurl.Mask(r.dsn()), cerr)
		}
	}()
	return fn(st)
}

// The commands that need only the store open it for the role they use,
// so their bodies depend on that role and not on the whole Store.

func (r *runner) withExecutions(ctx context.Context, mode openMode, fn func(st ports.ExecutionStore) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

func (r *runner) withTasks(ctx context.Context, mode openMode, fn func(st ports.TaskReader) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

func (r *runner) withDeadLetters(ctx context.Context, mode openMode, fn func(st ports.DeadLetterStore) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

func (r *runner) withWorkers(ctx context.Context, mode openMode, fn func(st ports.WorkerStore) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

func (r *runner) withMaintenance(ctx context.Context, mode openMode, fn func(st ports.Maintenance) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

func (r *runner) withMigrator(ctx context.Context, mode openMode, fn func(st ports.Migrator) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error { return fn(st) })
}

// withEngine is withStore plus an engine with an empty registry over the
// store (it dispatches by the catalogue workers publish), closed before
// the store.
func (r *runner) withEngine(ctx context.Context, mode openMode, fn func(eng *app.Engine, st storeurl.Store) error) error {
	return r.withStore(ctx, mode, func(st storeurl.Store) error {
		// The configured notifier (STENT_REDIS_URL, STENT_NOTIFIER, or
		// LISTEN/NOTIFY on PostgreSQL) lets workers in other processes hear
		// this command's dispatch, cancel, signal or replay at once. On
		// SQLite the notifier is in-process, so events also go over
		// loopback UDP to the stentd serving the same file (localwake).
		nopts := notifierurl.Options{DB: r.dsn(), RedisURL: r.env.Getenv("STENT_REDIS_URL"), Kind: r.env.Getenv("STENT_NOTIFIER")}
		notifier, err := notifierurl.Open(nopts)
		if err != nil {
			return err
		}
		cfg := app.Config{PollIntervalMax: time.Second}
		if path, ok := r.sqlitePath(); ok && notifierurl.KindOf(nopts) == notifierurl.Local {
			if notifier, err = localwake.NewSender(notifier, localwake.Config{DBPath: path}); err != nil {
				return err
			}
			// Nothing tells this process when stentd finishes a task on
			// SQLite: --wait polls the local file, starting at 5ms.
			cfg = app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 250 * time.Millisecond}
		}
		defer func() { _ = notifier.Close() }()
		eng, err := app.New(app.Deps{Store: st, Registry: app.NewRegistry(), Clock: r.env.Clock, Notifier: notifier}, cfg)
		if err != nil {
			return err
		}
		defer func() { _ = eng.Close() }()
		return fn(eng, st)
	})
}
