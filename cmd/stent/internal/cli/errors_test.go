package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// bare returns a harness on a path that does not exist yet.
func bare(t *testing.T, name string) *harness {
	t.Helper()
	return &harness{dsn: filepath.Join(t.TempDir(), name), clock: clock.NewFake(cliNow)}
}

func expect(t *testing.T, r result, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr %q does not contain %q", r.stderr, s)
		}
	}
	if code != 0 && strings.Count(strings.TrimSpace(r.stderr), "stent: ") != 1 {
		t.Errorf("want the error once, as one `stent: ` line; stderr: %q", r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stack trace on stderr: %s", r.stderr)
	}
}

func TestReadOnlyCommandsOnAMissingSQLiteFileCreateNothing(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{"list"}, {"show", "x"}, {"tasks", "list"}, {"tasks", "show", "x"}, {"stats"}, {"workers"}, {"dlq", "list"},
		{"dlq", "show", "x"}, {"watch"}, {"migrate", "--status"},
		// Write commands do not create it either: only migrate does.
		{"cancel", "x"}, {"signal", "x", "y"}, {"dispatch", "f"}, {"dlq", "replay", "x"}, {"dlq", "replay-all", "-f"},
		{"dlq", "discard", "x", "-f"}, {"cleanup", "-f"}, {"cleanup", "--dry-run"},
	}
	for _, args := range commands {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			h := bare(t, "missing.sqlite")
			r := h.run(t, args...)
			expect(t, r, 1, `stent: database "`+h.dsn+`" not found`)
			if _, err := os.Stat(h.dsn); !os.IsNotExist(err) {
				t.Fatalf("%v created %s", args, h.dsn)
			}
		})
	}
}

func TestTheDatabaseComesFromTheFlagThenSTENT_DBThenTheDefault(t *testing.T) {
	t.Parallel()
	h := bare(t, "env.sqlite")
	// The message says where the name came from and how to change it.
	hint := "point --db or STENT_DB at an existing database, or create it with `stent migrate`"
	r := h.exec(t, call{args: []string{"list"}, noDB: true, env: map[string]string{"STENT_DB": "sqlite://" + h.dsn}})
	expect(t, r, 1, `database "`+h.dsn+`" not found (from STENT_DB); `+hint)
	r = h.exec(t, call{args: []string{"list"}, noDB: true})
	expect(t, r, 1, `database "stent.sqlite" not found (the default); `+hint)
	r = h.exec(t, call{args: []string{"--db", h.dsn + "-flag", "list"}, noDB: true, env: map[string]string{"STENT_DB": h.dsn}})
	expect(t, r, 1, `database "`+h.dsn+`-flag" not found (from --db); `+hint)
}

func TestMigrateCreatesTheDatabaseAndOthersThenUseIt(t *testing.T) {
	t.Parallel()
	h := bare(t, "new.sqlite")
	r := h.run(t, "migrate")
	expect(t, r, 0)
	if m := regexp.MustCompile(`^schema version (\d+) of (\d+) applied: up to date\n$`).FindStringSubmatch(r.stdout); m == nil || m[1] != m[2] {
		t.Errorf("migrate printed %q; want the latest version, up to date", r.stdout)
	}
	expect(t, h.run(t, "list"), 0)
	expect(t, h.exec(t, call{args: []string{"migrate"}, noDB: true, env: map[string]string{"STENT_DB": "sqlite://" + h.dsn}}), 0)
}

func TestAnOutdatedSchemaTellsToRunMigrate(t *testing.T) {
	t.Parallel()
	h := bare(t, "empty.sqlite")
	if err := os.WriteFile(h.dsn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"cancel", "x"}, {"dispatch", "f"}} {
		expect(t, h.run(t, args...), 1, "schema", "version 0", "stent migrate")
	}
	r := h.run(t, "migrate", "--status")
	expect(t, r, 0)
	if !strings.HasPrefix(r.stdout, "schema version 0 of ") || !strings.Contains(r.stdout, "pending; run `stent migrate`") {
		t.Errorf("migrate --status on an empty file printed %q; want version 0 of the latest, pending", r.stdout)
	}
	expect(t, h.run(t, "migrate"), 0)
	expect(t, h.run(t, "cancel", "x"), 1, `execution "x" not found`)
}

func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	h := bare(t, "usage.sqlite")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "stent"`},
		{[]string{}, "stent needs a command"},
		{[]string{"dlq"}, "stent dlq needs a command"},
		{[]string{"tasks", "frob"}, `unknown command "frob" for "stent tasks"`},
		{[]string{"list", "--frob"}, "unknown flag: --frob"},
		{[]string{"list", "extra"}, `unknown command "extra" for "stent list"`},
		{[]string{"workers", "-s", "asleep"}, `unknown worker state "asleep"; allowed: live, stopped, dead`},
		{[]string{"show"}, "accepts 1 arg(s), received 0"},
		{[]string{"signal", "only-id"}, "accepts between 2 and 3 arg(s), received 1"},
		{[]string{"--timeout", "5", "list"}, `invalid duration "5"`},
		{[]string{"watch", "-i", "1h 30m"}, `invalid duration "1h 30m"`},
		{[]string{"cleanup", "--older-than", "0s", "-f"}, "--older-than 0s: must be positive"},
		{[]string{"list", "-n", "abc"}, `invalid argument "abc"`},
		{[]string{"--db", "mysql://h/db", "list"}, `scheme "mysql" is not supported`},
		{[]string{"--db", "sqlite://" + h.dsn + "?mode=fast", "list"}, `mode="fast"`},
	} {
		r := h.exec(t, call{args: tc.args, noDB: strings.HasPrefix(strings.Join(tc.args, " "), "--db")})
		expect(t, r, 2, tc.want)
		if r.spy.opens != 0 {
			t.Errorf("%v opened the store", tc.args)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	h := bare(t, "help.sqlite")
	for _, args := range [][]string{{"--help"}, {"dlq", "--help"}, {"dispatch", "-h"}, {"help", "watch"}} {
		r := h.run(t, args...)
		expect(t, r, 0)
		if !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: no usage on stdout: %s", args, r.stdout)
		}
	}
}

func TestAnUnreachablePostgreSQLNamesTheDSNWithoutThePassword(t *testing.T) {
	t.Parallel()
	h := &harness{dsn: "postgres://bob:s3cret-pw@127.0.0.1:1/stent?connect_timeout=5", clock: clock.NewFake(cliNow)}
	for _, args := range [][]string{{"list"}, {"cancel", "x"}, {"migrate"}} {
		r := h.run(t, args...)
		expect(t, r, 1, "postgres://bob:xxxxx@127.0.0.1:1/stent", "unreachable")
		if strings.Contains(r.stderr+r.stdout, "s3cret") {
			t.Fatalf("the password leaked: %s", r.stderr)
		}
	}
}

func TestColourOnlyOnATerminalWithoutNoColor(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	for _, tc := range []struct {
		name   string
		c      call
		colour bool
	}{
		{"a terminal gets colour", call{args: []string{"stats"}, stdoutTTY: true}, true},
		{"a pipe gets none", call{args: []string{"stats"}}, false},
		{"--no-color turns it off", call{args: []string{"--no-color", "stats"}, stdoutTTY: true}, false},
		{"NO_COLOR turns it off", call{args: []string{"stats"}, stdoutTTY: true, env: map[string]string{"NO_COLOR": "1"}}, false},
		{"--json never has any", call{args: []string{"--json", "list"}, stdoutTTY: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.exec(t, tc.c)
			expect(t, r, 0)
			if got := strings.Contains(r.stdout, "\x1b["); got != tc.colour {
				t.Errorf("colour %v, want %v:\n%s", got, tc.colour, r.stdout)
			}
		})
	}
}

func TestJSONOutputIsOneDocument(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	for _, args := range [][]string{
		{"list"}, {"show", exCompleted}, {"tasks", "list"}, {"tasks", "show", rootOf(exCompleted)}, {"stats"},
		{"workers"}, {"dlq", "list"}, {"dlq", "show", rootOf(exFailed)}, {"migrate", "--status"}, {"version"},
		{"cancel", exCompleted}, {"cleanup", "--dry-run"},
	} {
		r := h.run(t, append([]string{"--json"}, args...)...)
		expect(t, r, 0)
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, r.stdout)
		}
		if dec.More() {
			t.Errorf("%v: more than one document:\n%s", args, r.stdout)
		}
	}
}

func TestSignalPayloadsAreStoredAsGiven(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	for _, c := range []call{
		args("signal", exRunning, "a", "yes please", "--string"),
		args("signal", exRunning, "b", `{"ok": true}`),
		{args: []string{"signal", exRunning, "c", "-", "-s"}, stdin: "line one\nline two\n"},
		{args: []string{"signal", exRunning, "d", "-"}, stdin: " [1, 2] "},
		args("signal", exRunning, "e"),
		args("signal", exRunning, "f", "{bad"),
		// A bare word is not JSON: refused, not sent as a string.
		args("signal", exRunning, "g", "yes"),
		args("signal", exRunning, "h", "42"),
		args("signal", exRunning, "i", `{"legacy": 1}`, "-j"),
	} {
		h.exec(t, c)
	}
	sigs, err := h.st.(ports.Inspector).ListSignals(context.Background(), exRunning)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range sigs {
		got[s.Name] = string(s.Payload)
	}
	want := map[string]string{"a": `"yes please"`, "b": `{"ok":true}`, "c": `"line one\nline two"`, "d": `[1,2]`, "e": `null`,
		"h": `42`, "i": `{"legacy":1}`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("signal %s: payload %s, want %s", k, got[k], v)
		}
	}
	for _, bad := range []string{"f", "g"} {
		if _, ok := got[bad]; ok {
			t.Errorf("a bad call (signal %s) stored a signal: %v", bad, got)
		}
	}
	expect(t, h.run(t, "signal", exRunning, "g", "yes"), 1, `payload "yes" is not JSON`, `'"yes"'`, "--string")
}

func TestDispatchStoresTheOptions(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	r := h.run(t, "dispatch", "report", `{"n": 1}`, "--queue", "urgent", "--priority", "9", "--tags", "a,b",
		"--delay", "1.5h", "--max-duration", "1d", "--idempotency-key", "k-1")
	expect(t, r, 0)
	id := strings.TrimSpace(r.stdout)
	ex, err := h.st.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	start := cliNow.Add(90 * 60e9)
	if ex.Queue != "urgent" || ex.Priority != 9 || strings.Join(ex.Tags, ",") != "a,b" || ex.IdempotencyKey != "k-1" ||
		ex.ScheduledFor == nil || !ex.ScheduledFor.Equal(start) || ex.Deadline == nil || !ex.Deadline.Equal(start.Add(24*3600e9)) ||
		string(ex.Input) != `{"n":1}` {
		t.Errorf("stored %+v", ex)
	}
	// Without options the catalogue's routing applies.
	r = h.exec(t, call{args: []string{"dispatch", "report", "--input-file", "-"}, stdin: "[1,\n 2]\n"})
	expect(t, r, 0)
	ex, err = h.st.GetExecution(context.Background(), strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Queue != "reports" || ex.Priority != 2 || string(ex.Input) != "[1,2]" || ex.State != domain.ExecutionPending {
		t.Errorf("stored %+v", ex)
	}
	file := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.run(t, "dispatch", "report", "--input-file", file)
	expect(t, r, 0)
	expect(t, h.run(t, "dispatch", "report", "1", "--input-file", file), 2, "not both")
	expect(t, h.run(t, "dispatch", "report", "--input-file", file+".missing"), 1, "read input file")
}
