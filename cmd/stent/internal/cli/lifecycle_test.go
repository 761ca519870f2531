package cli_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// TestEveryCommandOpensTheStoreOnceClosesItAndLeavesNoGoroutine runs the
// whole command set, successes and failures, one at a time (not in
// parallel, so goleak sees only the command's goroutines).
func TestEveryCommandOpensTheStoreOnceClosesItAndLeavesNoGoroutine(t *testing.T) {
	h := newSeeded(t, sqliteBackend)
	for _, tc := range []struct {
		args  []string
		stdin string
		tty   bool
		code  int
		opens int
	}{
		{args: []string{"list"}, opens: 1},
		{args: []string{"--json", "list", "-s", "failed"}, opens: 1},
		{args: []string{"show", exCompleted}, opens: 1},
		{args: []string{"show", "missing"}, code: 1, opens: 1},
		{args: []string{"tasks", "list"}, opens: 1},
		{args: []string{"tasks", "show", rootOf(exRunning)}, opens: 1},
		{args: []string{"tasks", "show", "missing"}, code: 1, opens: 1},
		{args: []string{"stats"}, opens: 1},
		{args: []string{"workers"}, opens: 1},
		{args: []string{"--json", "workers", "-s", "dead"}, opens: 1},
		{args: []string{"workers", "-s", "gone"}, code: 2},
		{args: []string{"dlq", "list"}, opens: 1},
		{args: []string{"dlq", "show", rootOf(exFailed)}, opens: 1},
		{args: []string{"dlq", "show", "missing"}, code: 1, opens: 1},
		{args: []string{"watch", "-i", "1h"}, stdin: "q", opens: 1},
		{args: []string{"--json", "watch", "-i", "1h"}, stdin: "", opens: 1, code: 0},
		{args: []string{"migrate", "--status"}, opens: 1},
		{args: []string{"migrate"}, opens: 1},
		{args: []string{"signal", exRunning, "go", `"now"`}, opens: 1},
		{args: []string{"signal", exCompleted, "go", `"now"`}, code: 1, opens: 1},
		{args: []string{"dispatch", "report", "{}"}, opens: 1},
		{args: []string{"dispatch", "nobody", "{}"}, code: 1, opens: 1},
		{args: []string{"dispatch", "report", "{bad"}, code: 1},
		{args: []string{"dlq", "replay", stepOf(exFailed, 1)}, code: 1, opens: 1},
		{args: []string{"dlq", "discard", stepOf(exFailed, 1)}, tty: true, stdin: "n\n", code: 1, opens: 1},
		{args: []string{"dlq", "discard", stepOf(exFailed, 1)}, code: 2},
		{args: []string{"dlq", "replay-all", "-f"}, opens: 1},
		{args: []string{"dlq", "discard", "missing", "-f"}, code: 1, opens: 1},
		{args: []string{"cancel", exPending}, opens: 1},
		{args: []string{"cancel", exPending}, opens: 1},
		{args: []string{"cancel", "missing"}, code: 1, opens: 1},
		{args: []string{"cleanup", "--dry-run"}, opens: 1},
		{args: []string{"cleanup", "-f", "--older-than", "1m"}, opens: 1},
		{args: []string{"version"}},
		{args: []string{"list", "--frob"}, code: 2},
		{args: []string{"--db", "mysql://x", "list"}, code: 2},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			// The watch with --json gets a stdin that never sends q: it
			// ends when its ctx is cancelled after the first frame.
			c := call{args: tc.args, stdin: tc.stdin, stdinTTY: tc.tty}
			var cancel context.CancelFunc
			if tc.args[0] == "--json" && tc.args[1] == "watch" {
				var ctx context.Context
				ctx, cancel = context.WithCancel(context.Background())
				c.ctx, c.stdout = ctx, onFirstWrite(cancel)
			}
			r := h.exec(t, c)
			if cancel != nil {
				cancel()
			}
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", r.code, tc.code, r.stderr)
			}
			if r.spy.opens != tc.opens || r.spy.closes != tc.opens {
				t.Errorf("opens %d, closes %d; want %d each", r.spy.opens, r.spy.closes, tc.opens)
			}
			goleak.VerifyNone(t, before)
		})
	}
}

// onFirstWrite calls f once, on the first write.
func onFirstWrite(f func()) io.Writer {
	var once sync.Once
	return writerFunc(func(p []byte) (int, error) {
		once.Do(f)
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestAnInterruptExits130AndClosesTheStore interrupts a command blocked in
// a wait and one blocked in a prompt; watch is the exception and exits 0.
func TestAnInterruptExits130AndClosesTheStore(t *testing.T) {
	h := newSeeded(t, sqliteBackend)
	t.Run("dispatch --wait", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := h.exec(t, call{args: []string{"dispatch", "report", "{}", "--wait"}, ctx: ctx, stdout: onFirstWrite(cancel)})
		expect(t, r, 130, "stent: interrupted")
		if r.spy.closes != 1 {
			t.Errorf("closes %d", r.spy.closes)
		}
		goleak.VerifyNone(t, before)
	})
	t.Run("a prompt", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		// The prompt waits for a line that never comes; it is interrupted
		// as soon as it is shown.
		r := h.exec(t, call{args: []string{"dlq", "replay-all"}, stdinTTY: true, in: pr, ctx: ctx, stderr: onFirstWrite(cancel)})
		_ = pw.Close()
		expect(t, r, 130, "stent: interrupted")
		if r.spy.closes != 1 {
			t.Errorf("closes %d", r.spy.closes)
		}
		goleak.VerifyNone(t, before)
	})
	t.Run("watch", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		r := h.exec(t, call{args: []string{"watch", "-i", "1h"}, in: pr, ctx: ctx, stdout: onFirstWrite(cancel)})
		_ = pw.Close()
		expect(t, r, 0)
		if r.spy.closes != 1 {
			t.Errorf("closes %d", r.spy.closes)
		}
		goleak.VerifyNone(t, before)
	})
}

// TestStatsUsesCountQueriesOnly fails if stats lists anything but the
// bounded running-task list (P1.3).
func TestStatsUsesCountQueriesOnly(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			h := newSeeded(t, b)
			for _, args := range [][]string{{"stats"}, {"--json", "stats"}} {
				r := h.run(t, args...)
				expect(t, r, 0)
				want := "ListTasks(states=[running], kinds=[orchestrator activity], limit=10)"
				if len(r.spy.lists) != 1 || r.spy.lists[0] != want {
					t.Errorf("%v listed %q; want only %q", args, r.spy.lists, want)
				}
			}
		})
	}
}

// TestWatchReadsBoundedListsOnly checks every list query of a watch frame
// has a limit.
func TestWatchReadsBoundedListsOnly(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	r := h.exec(t, call{args: []string{"watch", "-i", "1h"}, stdin: "q"})
	expect(t, r, 0)
	if len(r.spy.lists) == 0 {
		t.Fatal("watch listed nothing")
	}
	for _, l := range r.spy.lists {
		if !strings.Contains(l, "limit=") || strings.Contains(l, "limit=0)") {
			t.Errorf("unbounded list: %s", l)
		}
	}
}
