package cli_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stenthq/stent/adapters/clock"
)

// readCase is one read-only command run on the shared seeded database.
type readCase struct {
	name string
	c    call
}

func args(a ...string) call { return call{args: a} }

var readCases = []readCase{
	{"list", args("list")},
	{"list-json", args("--json", "list")},
	{"list-state-filter", args("list", "-s", "failed,timed_out")},
	{"list-function-filter", args("list", "--function", "report", "--queue", "reports")},
	{"list-page", args("list", "-n", "2", "--offset", "1")},
	{"list-empty", args("list", "-s", "running", "--function", "nobody")},
	{"list-tag-filter", args("list", "--tag", "pci")},
	{"list-text-filter", args("list", "--text", "DECLINED")},
	{"list-id-prefix-filter", args("list", "--id-prefix", "ex-c")},
	{"list-created-range", args("list", "--created-from", "2030-01-02T03:06:05Z", "--created-before", "2030-01-02T03:09:05Z")},
	{"list-created-ago", args("--json", "list", "--created-from", "58m", "-n", "2")},
	{"list-bad-time", args("list", "--created-from", "yesterday")},
	{"list-text-too-long", args("list", "--text", strings.Repeat("x", 1025))},
	{"list-empty-json", args("--json", "list", "--function", "nobody")},
	{"list-colour", call{args: []string{"list", "-n", "3"}, stdoutTTY: true}},
	{"show-completed", args("show", exCompleted)},
	{"show-completed-json", args("--json", "show", exCompleted)},
	{"show-failed", args("show", exFailed)},
	{"show-running", args("show", exRunning)},
	{"show-pending", args("show", exPending)},
	{"show-cancelled", args("show", exCancelled)},
	{"show-timed-out", args("show", exTimedOut)},
	{"show-timed-out-json", args("--json", "show", exTimedOut)},
	{"show-waiting", args("show", exWaiting)},
	{"show-waiting-json", args("--json", "show", exWaiting)},
	{"tasks-list", args("tasks", "list")},
	{"tasks-list-json", args("--json", "tasks", "list", "--execution", exRunning)},
	{"tasks-list-filters", args("tasks", "list", "--kind", "sleep,signal", "-s", "completed")},
	{"tasks-list-queue", args("tasks", "list", "--queue", "reports", "--function", "render")},
	{"tasks-show-root", args("tasks", "show", rootOf(exRunning))},
	{"tasks-show-step", args("tasks", "show", stepOf(exFailed, 1))},
	{"tasks-show-json", args("--json", "tasks", "show", stepOf(exRunning, 1))},
	{"tasks-show-waiting", args("tasks", "show", rootOf(exWaiting))},
	{"workers", args("workers")},
	{"workers-json", args("--json", "workers", "-s", "live")},
	{"workers-state-filter", args("workers", "-s", "stopped", "--state", "dead")},
	{"workers-colour", call{args: []string{"workers"}, stdoutTTY: true}},
	{"queues", args("queues")},
	{"queues-json", args("--json", "queues")},
	{"queues-colour", call{args: []string{"queues"}, stdoutTTY: true}},
	{"stats", args("stats")},
	{"stats-json", args("--json", "stats")},
	{"dlq-list", args("dlq", "list")},
	{"dlq-list-json", args("--json", "dlq", "list", "--execution", exFailed, "--function", "charge")},
	{"dlq-list-queue", args("dlq", "list", "--queue", "reports")},
	{"dlq-show", args("dlq", "show", rootOf(exFailed))},
	{"dlq-show-json", args("--json", "dlq", "show", stepOf(exFailed, 1))},
	{"watch-frame", call{args: []string{"watch", "-i", "1h"}, stdin: "q"}},
	{"watch-json", call{args: []string{"--json", "watch", "-i", "1h"}, stdin: "xq"}},
	{"migrate-status", args("migrate", "--status")},
	{"migrate-status-json", args("--json", "migrate", "--status")},
	{"version", call{args: []string{"version"}, noDB: true}},
	{"version-json", call{args: []string{"--json", "version"}, noDB: true}},
	// Errors of read commands.
	{"show-unknown", args("show", "no-such-execution")},
	{"tasks-show-unknown", args("tasks", "show", "no-such-task")},
	{"dlq-show-unknown", args("dlq", "show", rootOf(exCompleted))},
	{"list-bad-state", args("list", "-s", "done")},
	{"workers-bad-state", args("workers", "-s", "live,gone")},
	{"tasks-list-bad-kind", args("tasks", "list", "--kind", "job")},
	{"list-bad-limit", args("list", "-n", "0")},
}

// TestGoldenReadCommands runs every read command, as a table and as JSON,
// on SQLite and PostgreSQL against the same golden files.
func TestGoldenReadCommands(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			h := newSeeded(t, b)
			for _, tc := range readCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					checkGolden(t, b, tc.name, h.normalise(render(h.exec(t, tc.c))))
				})
			}
		})
	}
}

// writeCase is a sequence of commands on a fresh seeded database; the
// golden file holds every step's output.
type writeCase struct {
	name  string
	calls []call
}

var writeCases = []writeCase{
	{"cancel", []call{
		args("cancel", exRunning),
		args("cancel", exRunning),
		args("--json", "cancel", exCompleted),
		args("show", exRunning),
		args("cancel", "no-such-execution"),
	}},
	{"cancel-json", []call{args("--json", "cancel", exPending)}},
	{"schedules", []call{
		args("schedules", "list"),
		args("schedules", "create", "nightly-report", "0 3 * * *", "report", `{"kind": "daily"}`, "--tz", "Europe/Paris"),
		args("--json", "schedules", "create", "every-minute", "* * * * *", "charge", "--catch-up", "all:5", "--overlap", "queue_one", "--paused"),
		args("schedules", "list"),
		args("schedules", "pause", "nightly-report"),
		args("schedules", "resume", "every-minute"),
		args("--json", "schedules", "list"),
		args("schedules", "trigger", "nightly-report"),
		args("schedules", "delete", "every-minute", "-f"),
		args("schedules", "list"),
		// Errors name the bad value.
		args("schedules", "create", "bad", "61 * * * *", "report"),
		args("schedules", "create", "bad", "@daily", "report", "--tz", "Mars/Olympus"),
		args("schedules", "create", "bad", "@daily", "nobody"),
		args("schedules", "create", "bad", "@daily", "report", "--catch-up", "often"),
		args("schedules", "create", "nightly-report", "@daily", "report"),
		args("schedules", "pause", "nobody"),
		args("schedules", "trigger", "nobody"),
		args("schedules", "delete", "nobody", "-f"),
	}},
	{"list-version", []call{
		args("dispatch", "invoice", `{"n": 1}`),
		args("dispatch", "invoice", `{"n": 2}`),
		args("list", "--version", "v2"),
		args("list", "-n", "3"),
		args("list", "--version", "v1"),
		args("--json", "list", "--version", "v2", "-n", "1"),
		args("show", "{id1}"),
	}},
	{"fork-reset", []call{
		args("fork", exCompleted, "--from-step", "3", "--input", `{"order": 9}`),
		args("show", "{id1}"),
		args("--json", "fork", exCompleted, "--from-step", "1"),
		args("fork", exCompleted, "--from-step", "5"),
		args("fork", exCompleted, "--from-step", "0"),
		args("fork", exCompleted),
		args("fork", exCompleted, "--from-step", "1", "--input", `{"order": }`),
		args("fork", "no-such-execution", "--from-step", "1"),
		args("reset", exFailed, "--from-step", "2"),
		args("reset", exFailed, "--from-step", "1"),
		args("show", exFailed),
		args("reset", exCompleted, "--from-step", "1"),
		args("--json", "reset", exCancelled, "--from-step", "1"),
		args("reset", "no-such-execution", "--from-step", "1"),
	}},
	{"signal-discard", []call{
		args("signal", exRunning, "note", `"bad"`),
		args("signal", exRunning, "note", `2`),
		args("signal", "list", exRunning),
		args("signal", "discard", exRunning, "note", "1", "-f"),
		args("signal", "discard", exRunning, "note", "1", "-f"),
		args("--json", "signal", "discard", exRunning, "note", "2", "-f"),
		args("signal", "discard", exRunning, "note", "x", "-f"),
		args("signal", "discard", "no-such-execution", "note", "1", "-f"),
		args("signal", "discard", exRunning, "note"),
		args("--json", "signal", "list", exRunning),
		args("signal", "list", "no-such-execution"),
	}},
	{"signal", []call{
		args("signal", exRunning, "approval", `"yes please"`),
		args("--json", "signal", exRunning, "approval", `{"ok": true, "by": "bob"}`),
		{args: []string{"signal", exRunning, "note", "-", "--string"}, stdin: "from stdin\n"},
		args("signal", exRunning, "empty"),
		args("signal", exCompleted, "approval", `"late"`),
		args("signal", "no-such-execution", "approval", "1"),
		args("signal", exRunning, "approval", `{"ok": tru}`),
		args("signal", exRunning, "approval", "yes"),
		args("signal", exRunning, "approval", "yes please", "--string"),
		args("signal", exRunning, "approval", `{"ok": true}`, "-j"),
		args("signal", exRunning, "approval", "x", "-j", "--string"),
		args("signal", exRunning, "bad\x01name", "1"),
	}},
	{"dispatch", []call{
		args("dispatch", "report", `{"month": "2030-03"}`, "--queue", "urgent", "--priority", "9", "--tags", "pci,eu",
			"--delay", "1h30m", "--max-duration", "2h", "--idempotency-key", "report-2030-03"),
		args("dispatch", "report", `{"month": "2030-03"}`, "--idempotency-key", "report-2030-03"),
		args("--json", "dispatch", "charge", "--run-at", "2030-01-02T06:00:00Z"),
		args("list", "-n", "2"),
		args("--json", "show", "{id1}"),
		args("dispatch", "nobody", "{}"),
		args("dispatch", "report", `{"month": 2030-03}`),
		{args: []string{"dispatch", "report", "--input-file", "-"}, stdin: "{\n  \"a\": [1, 2,]\n}\n"},
		args("dispatch", "report", "--delay", "10x"),
		args("dispatch", "report", "--run-at", "tomorrow"),
		args("dispatch", "report", "--delay", "1m", "--run-at", "2030-01-02T06:00:00Z"),
		args("dispatch", "report", "null", "--wait-timeout", "1s"),
	}},
	{"queues", []call{
		args("queues", "pause", "reports"),
		args("queues", "pause", "reports"),
		args("--json", "queues", "pause", "idle"),
		args("dispatch", "report", `{"month": "2030-04"}`),
		args("queues"),
		args("show", "{id1}"),
		args("queues", "resume", "reports"),
		args("queues", "resume", "reports"),
		args("--json", "queues", "resume", "idle"),
		args("queues"),
		args("queues", "pause"),
		args("queues", "pause", "bad\x01name"),
		args("queues", "stop", "reports"),
	}},
	{"dispatch-dedupe", []call{
		args("dispatch", "report", `{"n": 1}`, "--singleton", "nightly"),
		args("--json", "dispatch", "report", `{"n": 2}`, "--singleton", "nightly"),
		args("dispatch", "report", `{"n": 1}`, "--debounce", "user-7=1m"),
		args("--json", "dispatch", "report", `{"n": 2}`, "--debounce", "user-7=1m"),
		args("--json", "show", "{id2}"),
		args("show", "{id1}"),
		args("dispatch", "report", "--debounce", "user-7"),
		args("dispatch", "report", "--debounce", "user-7=0s"),
		args("dispatch", "report", "--debounce", "user-7=soon"),
		args("dispatch", "report", "--debounce", "user-7=1m", "--delay", "1m"),
		args("dispatch", "report", "--singleton", ""),
	}},
	{"dlq-replay", []call{
		args("dlq", "replay", stepOf(exFailed, 1)),
		args("dlq", "replay", rootOf(exFailed), "--queue", "retry", "--keep-attempts"),
		args("dlq", "replay", stepOf(exFailed, 1)),
		args("dlq", "list"),
		args("show", exFailed),
		args("dlq", "replay", "no-such-task"),
	}},
	{"dlq-replay-json", []call{args("--json", "dlq", "replay", rootOf(exFailed))}},
	{"dlq-replay-all", []call{
		args("dlq", "replay-all"),
		args("dlq", "replay-all", "-f", "--queue", "reports"),
		args("dlq", "replay-all", "-f", "--to-queue", "retry"),
		args("--json", "dlq", "replay-all", "-f"),
		args("tasks", "list", "--execution", exFailed),
	}},
	{"dlq-replay-all-prompt", []call{
		{args: []string{"dlq", "replay-all"}, stdinTTY: true, stdin: "n\n"},
		{args: []string{"dlq", "replay-all"}, stdinTTY: true, stdin: "yes\n"},
	}},
	{"dlq-discard", []call{
		args("dlq", "discard", stepOf(exFailed, 1)),
		args("dlq", "discard", stepOf(exFailed, 1), "-f"),
		args("dlq", "discard", stepOf(exFailed, 1), "-f"),
		{args: []string{"--json", "dlq", "discard", rootOf(exFailed)}, stdinTTY: true, stdin: "y\n"},
		args("dlq", "list"),
		args("tasks", "show", rootOf(exFailed)),
	}},
	{"cleanup", []call{
		args("cleanup", "--dry-run", "--older-than", "30m"),
		args("--json", "cleanup", "--dry-run", "--older-than", "30m", "--dlq"),
		args("cleanup", "--older-than", "30m"),
		{args: []string{"cleanup", "--older-than", "30m", "--executions"}, stdinTTY: true, stdin: "no\n"},
		args("cleanup", "--older-than", "30m", "-f"),
		args("list"),
		args("cleanup", "--older-than", "soon", "-f"),
	}},
}

// TestGoldenWriteCommands runs the write commands on a fresh seeded
// database each, on SQLite and PostgreSQL against the same golden files.
func TestGoldenWriteCommands(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range writeCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					h := newSeeded(t, b)
					var got strings.Builder
					for _, c := range tc.calls {
						h.clock.(*clock.Fake).Advance(time.Second) // each command a second later
						c.args = withIDs(c.args, got.String())
						got.WriteString("$ stent " + shellLine(c.args) + "\n")
						got.WriteString(render(h.exec(t, c)))
					}
					checkGolden(t, b, "write-"+tc.name, h.normalise(got.String()))
				})
			}
		})
	}
}

// withIDs replaces {idN} in args by the N-th random id printed so far.
func withIDs(args []string, transcript string) []string {
	var seen []string
	for _, id := range v4.FindAllString(transcript, -1) {
		if !slices.Contains(seen, id) {
			seen = append(seen, id)
		}
	}
	out := slices.Clone(args)
	for i, a := range out {
		for n, id := range seen {
			a = strings.ReplaceAll(a, fmt.Sprintf("{id%d}", n+1), id)
		}
		out[i] = a
	}
	return out
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,+-]+$`)

// shellLine prints args as a shell would need them quoted.
func shellLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case shellSafe.MatchString(a):
			out[i] = a
		case !strings.ContainsRune(a, '\'') && strings.IndexFunc(a, func(r rune) bool { return !unicode.IsPrint(r) }) < 0:
			out[i] = "'" + a + "'"
		default:
			out[i] = strconv.Quote(a)
		}
	}
	return strings.Join(out, " ")
}
