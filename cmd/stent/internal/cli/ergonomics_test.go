package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/cmd/stent/internal/cli"
	"github.com/stenthq/stent/internal/testenv"
)

func TestCleanupKeepsWhatTheServiceKeeps(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	r := h.run(t, "--json", "cleanup", "--dry-run")
	expect(t, r, 0)
	var v struct {
		Before time.Time `json:"before"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("cleanup --json: %v\n%s", err, r.stdout)
	}
	if want := cliNow.Add(-app.DefaultRetention); !v.Before.Equal(want) {
		t.Errorf("cleanup without --older-than deletes before %s; want now - app.DefaultRetention (%s), stentd's retention", v.Before, want)
	}
	if app.DefaultRetention != 7*24*time.Hour {
		t.Errorf("app.DefaultRetention = %s; the documented default is 7d", app.DefaultRetention)
	}
}

func TestVersionNeverPrintsABareDevel(t *testing.T) {
	t.Parallel()
	info := func(bi *debug.BuildInfo) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return bi, bi != nil }
	}
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2030-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name    string
		stamped string
		info    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"stamped at build wins", "v1.2.3", info(vcs), "v1.2.3"},
		{"go install module@version", "", info(&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}), "v1.4.0"},
		{"go build in a checkout", "", info(vcs), "devel-0123456789ab+dirty (2030-01-02T03:04:05Z)"},
		{"no VCS information", "", info(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}), "devel (no VCS information; build with `make build-bin` to stamp a version)"},
		{"no build information", "", info(nil), "devel (no build information)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.Version(tc.stamped, tc.info); got != tc.want {
				t.Errorf("Version = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	t.Parallel()
	h := bare(t, "completion.sqlite")
	for shell, marker := range map[string]string{
		"bash": "# bash completion", "zsh": "#compdef stent", "fish": "complete -c stent", "powershell": "Register-ArgumentCompleter",
	} {
		r := h.exec(t, call{args: []string{"completion", shell}, noDB: true})
		expect(t, r, 0)
		if !strings.Contains(r.stdout, marker) {
			t.Errorf("completion %s: no %q in %.200s", shell, marker, r.stdout)
		}
		if r.spy.opens != 0 {
			t.Errorf("completion %s opened the store", shell)
		}
	}
	// Commands complete dynamically through cobra's __complete.
	r := h.exec(t, call{args: []string{"__complete", "dl"}, noDB: true})
	if !strings.Contains(r.stdout, "dlq") {
		t.Errorf("__complete dl: %q; want dlq", r.stdout)
	}
}

// closedSQLite returns a migrated, seeded SQLite database no process has
// open: only the file, no -wal or -shm beside it.
func closedSQLite(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "stent.sqlite")
	st, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func filesIn(t *testing.T, dir string) []string {
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

func TestReadOnlyCommandsNeverWriteToTheFile(t *testing.T) {
	t.Parallel()
	dir, path := closedSQLite(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{dsn: path, clock: clock.NewFake(cliNow)}
	for _, args := range [][]string{
		{"list"}, {"show", exCompleted}, {"tasks", "list"}, {"tasks", "show", rootOf(exFailed)}, {"stats"}, {"workers"},
		{"dlq", "list"}, {"dlq", "show", rootOf(exFailed)}, {"migrate", "--status"}, {"--json", "migrate", "--status"},
	} {
		expect(t, h.run(t, args...), 0)
		if got := filesIn(t, dir); !slices.Equal(got, []string{"stent.sqlite"}) {
			t.Fatalf("%v left %v beside the database; want nothing", args, got)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("read-only commands changed the database file")
	}
}

func TestWriteCommandsOnAnEmptyFileWriteNothing(t *testing.T) {
	t.Parallel()
	h := bare(t, "empty.sqlite")
	if err := os.WriteFile(h.dsn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"dispatch", "f", "{}"}, {"cancel", "x"}, {"signal", "x", "go"}, {"dlq", "replay", "x"},
		{"cleanup", "-f"}, {"migrate", "--status"}} {
		h.run(t, args...)
		if st, err := os.Stat(h.dsn); err != nil || st.Size() != 0 {
			t.Fatalf("%v wrote to the empty file (%v)", args, err)
		}
		if got := filesIn(t, filepath.Dir(h.dsn)); !slices.Equal(got, []string{"empty.sqlite"}) {
			t.Fatalf("%v left %v beside the database", args, got)
		}
	}
}

func TestMigrateStatusReportsVersionsOnAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	latest := 0
	if ms, err := sqlstore.Migrations("sqlite"); err == nil {
		latest = len(ms)
	}
	want := fmt.Sprintf("schema version 0 of %d applied: %d migrations pending; run `stent migrate`\n", latest, latest)
	t.Run("sqlite, a 0-byte file", func(t *testing.T) {
		t.Parallel()
		h := bare(t, "empty.sqlite")
		if err := os.WriteFile(h.dsn, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := h.run(t, "migrate", "--status")
		expect(t, r, 0)
		if r.stdout != want {
			t.Errorf("migrate --status printed %q; want %q", r.stdout, want)
		}
		r = h.run(t, "--json", "migrate", "--status")
		if !strings.Contains(r.stdout, `"current": 0`) || !strings.Contains(r.stdout, `"up_to_date": false`) {
			t.Errorf("migrate --status --json printed %s", r.stdout)
		}
	})
	t.Run("postgres, an empty schema", func(t *testing.T) {
		t.Parallel()
		// The schema is never created by this test: PostgresSchema only
		// names it and drops it at cleanup (after migrate created it).
		base, schema := testenv.PostgresSchema(t, "stent_cli_empty_")
		h := &harness{dsn: testenv.WithParams(t, base, "search_path", schema, "pool_max_conns", "2"), clock: clock.NewFake(cliNow)}
		r := h.run(t, "migrate", "--status")
		expect(t, r, 0)
		if r.stdout != want {
			t.Errorf("migrate --status printed %q; want %q", r.stdout, want)
		}
		// And it created nothing: the schema is still missing, so a
		// migrate afterwards starts from 0 as well.
		r = h.run(t, "migrate")
		expect(t, r, 0)
	})
}
