package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// createExecution stores a pending execution id.
func createExecution(t *testing.T, s ports.Store, id string) {
	t.Helper()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exec := domain.Execution{ID: id, RootFunction: "wf", RootTaskID: id + "/r", CreatedAt: now}
	root := domain.Task{ID: id + "/r", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "wf", CreatedAt: now}
	if _, _, err := ports.CreateExecution(t.Context(), s, exec, root); err != nil {
		t.Fatal(err)
	}
}

// closedDatabase returns a migrated database no process has open (its
// -wal and -shm files are gone, as after stentd stops).
func closedDatabase(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "stent.db")
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	createExecution(t, s, "ex-1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"stent.db"}) {
		t.Fatalf("after close the directory holds %v; want only stent.db", got)
	}
	return dir, path
}

func TestASnapshotReadCreatesNothingBesideTheFile(t *testing.T) {
	t.Parallel()
	dir, path := closedDatabase(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path, ReadOnly: true, Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetExecution(t.Context(), "ex-1"); err != nil {
		t.Errorf("a snapshot does not read what is stored: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"stent.db"}) {
		t.Errorf("a snapshot read left %v; want only stent.db", got)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Errorf("a snapshot read changed the file")
	}
}

func TestASnapshotOfAnOpenDatabaseSeesItsCommits(t *testing.T) {
	t.Parallel()
	w := teststore.SQLite(t)
	createExecution(t, w, "ex-live")
	// The writer holds the database open: its commits are in the -wal
	// file, which a snapshot must read (mode=ro, not immutable).
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: w.Path(), ReadOnly: true, Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetExecution(t.Context(), "ex-live"); err != nil {
		t.Errorf("a snapshot of a database in use misses a commit: %v", err)
	}
}

func TestAnySchemaReportsTheVersionOfAnEmptyFileWithoutWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path, ReadOnly: true, Snapshot: true, AnySchema: true})
	if err != nil {
		t.Fatalf("open an empty file to report its version: %v", err)
	}
	cur, latest, err := s.SchemaVersion(t.Context())
	_ = s.Close()
	if err != nil || cur != 0 || latest < 1 {
		t.Errorf("SchemaVersion = %d, %d, %v; want 0 of the latest", cur, latest, err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("the empty file was written to (stat %v, %v)", st, err)
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"empty.db"}) {
		t.Errorf("reporting the version left %v; want only empty.db", got)
	}
}

func TestOpeningAnOutdatedFileWithoutMigratingWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path, NoAutoMigrate: true})
	if err == nil {
		_ = s.Close()
		t.Fatal("opened an empty file without migrating it")
	}
	if !errors.Is(err, domain.ErrSchemaVersion) {
		t.Errorf("Open = %v; want ErrSchemaVersion", err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("the refused file was written to (size %d, %v)", st.Size(), err)
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"empty.db"}) {
		t.Errorf("the refused open left %v; want only empty.db", got)
	}
}
