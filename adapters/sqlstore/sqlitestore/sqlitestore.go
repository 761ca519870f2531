// Package sqlitestore is the embedded SQLite store (modernc.org/sqlite, no
// cgo). Every write transaction runs on ONE connection with BEGIN
// IMMEDIATE, so writers are serialised and never deadlock; reads use a
// separate pool and see committed data through WAL. Times are stored as
// INTEGER microseconds since the Unix epoch (UTC), so SQL ordering is exact.
// The SQL itself lives in package sqlstore.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

var (
	_ ports.Store    = (*Store)(nil)
	_ ports.Migrator = (*Store)(nil)
)

// DefaultBusyTimeout is how long a writer waits for another process's
// write lock before failing with ErrUnavailable.
const DefaultBusyTimeout = 5 * time.Second

// DefaultCacheMiB is the writer connection's page cache. SQLite's own
// default (2 MiB) made the claim and completion transactions of a busy
// worker re-read pages from the OS: W1 ran about 7% faster with a larger
// cache (features/074). 64 MiB made a worker with 100,000 parked
// workflows hold 191 MiB against 62 MiB at 2 MiB (bench W6); 16 MiB
// keeps W1's gain at 89 MiB (features/082). The cache grows only as
// pages are read.
const DefaultCacheMiB = 16

// Config configures Open. A zero Config is invalid: Path is required.
type Config struct {
	// Path is the database file. It is created (with the schema) unless
	// ReadOnly; its directory must exist.
	Path string
	// ReadOnly opens an existing file with mode=ro: it never creates the
	// file, never migrates, and every write fails with ErrInvalidArgument.
	// SQLite still creates the -wal and -shm files of a WAL database
	// beside it when they are missing; Snapshot avoids that.
	ReadOnly bool
	// Snapshot, with ReadOnly, reads the file without creating anything
	// beside it: when no -wal file exists (no process has the database
	// open, so the main file holds every commit) it opens it immutable=1;
	// otherwise mode=ro, whose -wal and -shm files exist already. Meant
	// for one-shot reads (the CLI's list, show, stats, migrate --status);
	// a snapshot opened while nothing else had the file open does not see
	// later writes, so a live view (stent watch) opens without it.
	Snapshot bool
	// AnySchema, with ReadOnly, opens the database whatever its schema
	// version, even an empty file, so that SchemaVersion can report it
	// (`stent migrate --status`); the other methods need a current schema.
	AnySchema bool
	// NoAutoMigrate makes Open fail with ErrSchemaVersion on a database
	// older than the code instead of migrating it (run `stent migrate`).
	NoAutoMigrate bool
	// BusyTimeout is how long a write waits for a lock held by another
	// process; 0 means DefaultBusyTimeout. Negative is ErrInvalidArgument.
	BusyTimeout time.Duration
	// Synchronous is PRAGMA synchronous: "NORMAL" (the default; with WAL a
	// power loss may drop the last commits but never corrupts the file) or
	// "FULL" (every commit is fsynced). Anything else is
	// ErrInvalidArgument.
	Synchronous string
	// CacheMiB is the writer connection's page cache in MiB (PRAGMA
	// cache_size); 0 means DefaultCacheMiB. The readers keep SQLite's
	// default. Negative is ErrInvalidArgument.
	CacheMiB int
}

// Store is the SQLite implementation of ports.Store and ports.Migrator.
type Store struct {
	*sqlstore.Store
	path string
	ckpt *checkpointer // nil when read-only
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// ParseDSN reads a `sqlite://PATH[?options]` DSN (sqlite:///abs/file.db,
// sqlite://relative.db, or sqlite:PATH). Options: mode=ro (ReadOnly),
// synchronous=NORMAL|FULL, busy_timeout=<Go duration>, cache_mib=<MiB>,
// auto_migrate=false.
func ParseDSN(dsn string) (Config, error) {
	var cfg Config
	rest, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		if rest, ok = strings.CutPrefix(dsn, "sqlite:"); !ok {
			return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN %q does not start with sqlite://", dsn))
		}
	}
	p, query, _ := strings.Cut(rest, "?")
	if p == "" {
		return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN %q has no database path", dsn))
	}
	if unescaped, err := url.PathUnescape(p); err == nil {
		p = unescaped
	}
	cfg.Path = p
	q, err := url.ParseQuery(query)
	if err != nil {
		return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN %q: malformed options: %v", dsn, err))
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "mode":
			if v != "ro" && v != "rw" && v != "rwc" {
				return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN option mode=%q; allowed: ro, rw, rwc", v))
			}
			cfg.ReadOnly = v == "ro"
		case "synchronous":
			cfg.Synchronous = v
		case "busy_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN option busy_timeout=%q is not a duration like 5s", v))
			}
			cfg.BusyTimeout = d
		case "cache_mib":
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN option cache_mib=%q is not a whole number of MiB", v))
			}
			cfg.CacheMiB = n
		case "auto_migrate":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("DSN option auto_migrate=%q; want true or false", v))
			}
			cfg.NoAutoMigrate = !b
		default:
			return cfg, fmt.Errorf("sqlitestore: %w", domain.InvalidArgument(
				"unknown DSN option %q; allowed: mode, synchronous, busy_timeout, cache_mib, auto_migrate", k))
		}
	}
	return cfg, nil
}

func (cfg *Config) validate() error {
	if cfg.Path == "" {
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("Config.Path is empty; a database file is required"))
	}
	if cfg.Path == ":memory:" || strings.Contains(cfg.Path, "mode=memory") {
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument(
			"database %q: in-memory SQLite is not supported (readers and the writer need one file); use memstore or a temporary file", cfg.Path))
	}
	switch s := strings.ToUpper(cfg.Synchronous); s {
	case "":
		cfg.Synchronous = "NORMAL"
	case "NORMAL", "FULL":
		cfg.Synchronous = s
	default:
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("synchronous %q; allowed: NORMAL (default), FULL", cfg.Synchronous))
	}
	switch {
	case cfg.BusyTimeout < 0:
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("busy timeout %s is negative", cfg.BusyTimeout))
	case cfg.BusyTimeout == 0:
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	switch {
	case cfg.CacheMiB < 0:
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("page cache of %d MiB is negative; 0 means the default, %d MiB", cfg.CacheMiB, DefaultCacheMiB))
	case cfg.CacheMiB == 0:
		cfg.CacheMiB = DefaultCacheMiB
	}
	return nil
}

// checkPath reports a missing file (read-only) or a missing directory.
func (cfg *Config) checkPath() error {
	if cfg.ReadOnly {
		st, err := os.Stat(cfg.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("sqlitestore: database %q not found (read-only mode never creates it): %w", cfg.Path, domain.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlitestore: database %q: %w: %w", cfg.Path, domain.ErrUnavailable, err)
		case st.IsDir():
			return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("database %q is a directory, not a file", cfg.Path))
		}
		return nil
	}
	dir := filepath.Dir(cfg.Path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument(
			"directory %q of database %q does not exist; create it first", dir, cfg.Path))
	case err != nil:
		return fmt.Errorf("sqlitestore: database %q: directory %q: %w: %w", cfg.Path, dir, domain.ErrUnavailable, err)
	case !st.IsDir():
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("%q (parent of database %q) is not a directory", dir, cfg.Path))
	}
	if st, err := os.Stat(cfg.Path); err == nil && st.IsDir() {
		return fmt.Errorf("sqlitestore: %w", domain.InvalidArgument("database %q is a directory, not a file", cfg.Path))
	}
	return nil
}

// fileURI builds the modernc DSN: a file: URI (so mode=ro works) followed
// by the driver's own options.
func fileURI(path string, opts []string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + esc + "?" + strings.Join(opts, "&")
}

// writerOptions are the URI options of the writer connection of a
// validated cfg.
func writerOptions(cfg Config, busy, sync string) []string {
	return []string{
		"_txlock=immediate", busy, "_pragma=journal_mode(WAL)", sync, "_pragma=foreign_keys(0)",
		// Statement journals (a multi-row UPDATE after another in one
		// transaction: a claim, a completion batch) stay in memory instead
		// of spilling to a temporary file.
		"_pragma=temp_store(MEMORY)",
		// Checkpoints run in the background (checkpoint.go); the writer's
		// own is a safety bound only.
		"_pragma=wal_autocheckpoint(" + strconv.Itoa(walSafetyPages) + ")",
		// A negative cache_size is in KiB.
		"_pragma=cache_size(-" + strconv.Itoa(cfg.CacheMiB*1024) + ")",
	}
}

// Open opens (and unless ReadOnly creates and migrates) the database at
// cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkPath(); err != nil {
		return nil, err
	}
	busy := "_pragma=busy_timeout(" + strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10) + ")"
	sync := "_pragma=synchronous(" + cfg.Synchronous + ")"
	var write *sql.DB
	var ckpt *checkpointer
	var readOpts []string
	switch {
	case cfg.ReadOnly && cfg.Snapshot && !walExists(cfg.Path):
		readOpts = []string{"mode=ro", "immutable=1", "_pragma=query_only(1)"}
	case cfg.ReadOnly:
		readOpts = []string{"mode=ro", busy, "_pragma=query_only(1)"}
	default:
		// A database that will be refused for its schema is refused before
		// anything is written to it (a 0-byte file stays 0 bytes).
		if cfg.NoAutoMigrate {
			if err := checkSchemaReadOnly(ctx, cfg); err != nil {
				return nil, err
			}
		}
		var err error
		write, err = sql.Open("sqlite", fileURI(cfg.Path, writerOptions(cfg, busy, sync)))
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: open %q: %w", cfg.Path, err)
		}
		write.SetMaxOpenConns(1)
		write.SetMaxIdleConns(1)
		write.SetConnMaxLifetime(0)
		write.SetConnMaxIdleTime(0)
		// Connect now: it creates the file and switches it to WAL before
		// the readers open it.
		if err := pingWhileBusy(ctx, write, cfg.BusyTimeout); err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("sqlitestore: open database %q: %w", cfg.Path, mapError(err))
		}
		readOpts = []string{busy, sync, "_pragma=query_only(1)"}
		cdb, err := sql.Open("sqlite", fileURI(cfg.Path, []string{busy, sync}))
		if err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("sqlitestore: open %q: %w", cfg.Path, err)
		}
		cdb.SetMaxOpenConns(1)
		cdb.SetMaxIdleConns(1)
		cdb.SetConnMaxLifetime(0)
		cdb.SetConnMaxIdleTime(0)
		ckpt = newCheckpointer(cdb)
	}
	read, err := sql.Open("sqlite", fileURI(cfg.Path, readOpts))
	if err != nil {
		if ckpt != nil {
			_ = ckpt.Close()
		}
		if write != nil {
			_ = write.Close()
		}
		return nil, fmt.Errorf("sqlitestore: open %q: %w", cfg.Path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	closeAll := func() error {
		var err error
		if ckpt != nil {
			err = ckpt.Close()
		}
		err = errors.Join(err, read.Close())
		if write != nil {
			err = errors.Join(err, write.Close())
		}
		return err
	}
	if err := read.PingContext(ctx); err != nil {
		_ = closeAll()
		return nil, fmt.Errorf("sqlitestore: open database %q: %w", cfg.Path, mapError(err))
	}
	core, err := sqlstore.New(sqlstore.Options{
		Name: "sqlitestore", Dialect: dialect{}, Write: write, Read: read,
		ReadOnly: cfg.ReadOnly, OnClose: closeAll, CacheStatements: true,
		AfterWrite: ckpt.kicker(),
	})
	if err != nil {
		_ = closeAll()
		return nil, err
	}
	st := &Store{Store: core, path: cfg.Path, ckpt: ckpt}
	if cfg.ReadOnly && cfg.AnySchema {
		return st, nil
	}
	if err := core.EnsureSchema(ctx, !cfg.NoAutoMigrate); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("%w (database %q)", err, cfg.Path)
	}
	return st, nil
}

// walExists reports whether the database's -wal file exists.
func walExists(path string) bool {
	_, err := os.Stat(path + "-wal")
	return err == nil
}

// checkSchemaReadOnly checks, through a read-only snapshot, that an
// existing database has the current schema, so that opening it for writes
// without migrating writes nothing to a database it then refuses. A
// missing file is left to the caller (it is created); so is a database
// with a -wal file: another process has it open in WAL mode, and opening
// the writer changes nothing in it.
func checkSchemaReadOnly(ctx context.Context, cfg Config) error {
	if _, err := os.Stat(cfg.Path); err != nil || walExists(cfg.Path) {
		return nil
	}
	probe := cfg
	probe.ReadOnly, probe.Snapshot, probe.AnySchema = true, true, false
	st, err := Open(ctx, probe)
	if err != nil {
		if errors.Is(err, domain.ErrSchemaVersion) {
			return err
		}
		return nil // let the read-write open report it
	}
	return st.Close()
}

// pingWhileBusy connects, retrying while another process holds the lock
// that switching a new file to WAL needs: SQLite reports SQLITE_BUSY for
// that pragma without calling the busy handler.
func pingWhileBusy(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	backoff := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
