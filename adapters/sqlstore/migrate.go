package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
)

// migrationFiles holds the versioned, forward-only migrations:
// migrations/common/NNNN_name.sql, overridden per dialect by
// migrations/<dialect>/NNNN_name.sql where the SQL must differ.
//
//go:embed migrations
var migrationFiles embed.FS

// Migration is one schema version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations of dialect name ("sqlite" or
// "postgres") in version order, markers not yet expanded.
func Migrations(dialect string) ([]Migration, error) {
	byVersion := map[int]Migration{}
	for _, dir := range []string{"migrations/common", "migrations/" + dialect} {
		entries, err := fs.ReadDir(migrationFiles, dir)
		if err != nil {
			continue // no variants for this dialect
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
				continue
			}
			num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
			v, err := strconv.Atoi(num)
			if !ok || err != nil || v <= 0 {
				return nil, fmt.Errorf("sqlstore: migration file %q is not named NNNN_name.sql", e.Name())
			}
			body, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			byVersion[v] = Migration{Version: v, Name: name, SQL: string(body)} // dialect file overrides
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("sqlstore: migrations are not contiguous: version %d follows %d", m.Version, i)
		}
	}
	return out, nil
}

// LatestVersion is the newest schema version this code knows.
func (s *Store) LatestVersion() int {
	ms, err := Migrations(s.d.Name())
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// expand replaces the table and type markers of a migration.
func (s *Store) expand(sqlText string) string {
	pairs := []string{"@", s.d.TablePrefix()}
	for k, v := range s.d.SchemaTypes() {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(sqlText)
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS @schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at {{time}} NOT NULL
)`

// Migrate applies every pending migration, each in its own transaction
// recorded in schema_migrations; a no-op when current. Migrators are
// serialised (PostgreSQL advisory lock, SQLite immediate transactions), so
// several processes may run it at once. A database newer than the code is
// ErrSchemaVersion naming both versions.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.readOnly {
		return s.errorf("migrate: %w", domain.InvalidArgument("the store is open read-only; it cannot migrate"))
	}
	ms, err := Migrations(s.d.Name())
	if err != nil {
		return err
	}
	latest := len(ms)
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.wrap(err, "migrate")
	}
	defer conn.Close()
	unlock, err := s.d.LockMigrations(ctx, conn)
	if err != nil {
		return s.wrap(err, "migrate: lock")
	}
	defer unlock()
	if err := s.d.PrepareSchema(ctx, conn); err != nil {
		return s.wrap(err, "migrate: prepare schema")
	}
	if _, err := conn.ExecContext(ctx, s.expand(createSchemaMigrations)); err != nil {
		return s.wrap(err, "migrate: create schema_migrations")
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, conn, m, latest); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, m Migration, latest int) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "migrate: begin")
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var current int
	if err = tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(version), 0) FROM @schema_migrations`)).Scan(&current); err != nil {
		return s.wrap(err, "migrate: read version")
	}
	if current > latest {
		return s.newerSchema(current, latest)
	}
	if current >= m.Version {
		return s.wrap(tx.Commit(), "migrate: commit")
	}
	if current != m.Version-1 {
		return s.errorf("migrate: %w: database is at version %d, cannot apply %d", domain.ErrSchemaVersion, current, m.Version)
	}
	if _, err = tx.ExecContext(ctx, s.expand(m.SQL)); err != nil {
		return s.wrap(err, fmt.Sprintf("migrate: apply %04d_%s", m.Version, m.Name))
	}
	if _, err = tx.ExecContext(ctx, s.q(`INSERT INTO @schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, s.tm(time.Now())); err != nil {
		return s.wrap(err, "migrate: record version")
	}
	return s.wrap(tx.Commit(), "migrate: commit")
}

func (s *Store) newerSchema(current, latest int) error {
	return s.errorf("%w: the database schema is at version %d but this binary knows only up to version %d; upgrade stent",
		domain.ErrSchemaVersion, current, latest)
}

// SchemaVersion returns the database's applied version (0 for an empty
// database) and the latest version this code knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	if err := s.check(); err != nil {
		return 0, 0, err
	}
	latest = s.LatestVersion()
	err = s.r.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(version), 0) FROM @schema_migrations`)).Scan(&current)
	if err != nil {
		if s.d.UndefinedTable(err) {
			return 0, latest, nil
		}
		return 0, latest, s.wrap(err, "schema version")
	}
	return current, latest, nil
}

// EnsureSchema prepares the database for use: with autoMigrate it runs
// Migrate; without, an older schema is ErrSchemaVersion telling to run
// `stent migrate`. A newer schema is always ErrSchemaVersion.
func (s *Store) EnsureSchema(ctx context.Context, autoMigrate bool) error {
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case current > latest:
		return s.newerSchema(current, latest)
	case current == latest:
		return nil
	case autoMigrate && !s.readOnly:
		return s.Migrate(ctx)
	default:
		return s.errorf("%w: the database schema is at version %d but this binary needs version %d; run `stent migrate`",
			domain.ErrSchemaVersion, current, latest)
	}
}
