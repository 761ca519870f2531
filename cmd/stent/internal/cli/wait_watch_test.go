package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
)

// TestDispatchWaitPrintsTheResult runs a worker in the test on the same
// database and dispatches to it from the CLI.
func TestDispatchWaitPrintsTheResult(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, st := b.newDB(t)
			reg := app.NewRegistry()
			app.Register(reg, "double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
			app.Register(reg, "boom", func(context.Context, struct{}) (int, error) {
				return 0, app.Permanent(app.NewError("boom", "it broke"))
			})
			eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			w, err := eng.NewWorker(app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- w.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				<-served
				_ = eng.Close()
			})
			<-w.Ready() // the function catalogue is published
			h := &harness{dsn: dsn, st: st, clock: clock.System{}}

			r := h.run(t, "dispatch", "double", "21", "--wait")
			expect(t, r, 0)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 2 || !v4.MatchString(lines[0]) || lines[1] != "OK 42" {
				t.Errorf("stdout %q; want the id, then OK 42", r.stdout)
			}

			r = h.run(t, "--json", "dispatch", "double", "5", "--wait", "--wait-timeout", "1m")
			expect(t, r, 0)
			var res struct {
				ID    string          `json:"execution_id"`
				State string          `json:"state"`
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.State != "completed" || string(res.Value) != "10" || !v4.MatchString(res.ID) {
				t.Errorf("stdout %q (%v)", r.stdout, err)
			}

			r = h.run(t, "dispatch", "boom", "{}", "--wait")
			expect(t, r, 1, "ended failed")
			if !strings.HasSuffix(r.stdout, "Error: boom: it broke\n") {
				t.Errorf("stdout %q", r.stdout)
			}

			r = h.run(t, "dispatch", "double", "1", "--delay", "1h", "--wait", "--wait-timeout", "0.05s")
			expect(t, r, 1, "did not finish within 0.05s (it keeps running)")
			r = h.run(t, "--timeout", "0.05s", "dispatch", "double", "1", "--delay", "1h", "--wait")
			expect(t, r, 1, "stent dispatch: timed out after 0.05s (--timeout)")
		})
	}
}

// TestWatchRedrawsOnEveryTickAndQuitsOnQ drives watch with the fake clock:
// each Advance by the interval draws one more frame; q ends it with 0.
func TestWatchRedrawsOnEveryTickAndQuitsOnQ(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		tty  bool
		// check inspects frames 1 and 2 (after one execution finished).
		check func(t *testing.T, f1, f2 string)
	}{
		{"text frames", []string{"watch", "-i", "2s"}, false, func(t *testing.T, f1, f2 string) {
			if !strings.Contains(f1, "Throughput    -") || !strings.Contains(f2, "Throughput    0.5 executions/s finished") {
				t.Errorf("throughput:\n%s\n%s", f1, f2)
			}
			if !strings.Contains(f2, "pending 0") || !strings.Contains(f2, "cancelled 2") {
				t.Errorf("counts not refreshed:\n%s", f2)
			}
		}},
		{"redrawn in place on a terminal", []string{"watch", "-i", "2s"}, true, func(t *testing.T, f1, f2 string) {
			for _, f := range []string{f1, f2} {
				if !strings.HasPrefix(f, "\x1b[H\x1b[2J") {
					t.Errorf("frame does not clear and home: %q", f[:min(len(f), 20)])
				}
			}
		}},
		{"NDJSON", []string{"--json", "watch", "-i", "2s"}, false, func(t *testing.T, f1, f2 string) {
			var a, b map[string]any
			if json.Unmarshal([]byte(f1), &a) != nil || json.Unmarshal([]byte(f2), &b) != nil {
				t.Fatalf("frames are not JSON lines:\n%s%s", f1, f2)
			}
			if _, ok := a["throughput_per_second"]; ok || b["throughput_per_second"] != 0.5 {
				t.Errorf("throughput: %v then %v", a["throughput_per_second"], b["throughput_per_second"])
			}
			if !strings.HasSuffix(f1, "}\n") || strings.Count(f1, "\n") != 1 {
				t.Errorf("not one line: %q", f1)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSeeded(t, sqliteBackend)
			fake := h.clock.(*clock.Fake)
			frames := make(chan string, 16)
			pr, pw := io.Pipe()
			done := make(chan result, 1)
			go func() {
				done <- h.exec(t, call{args: tc.args, in: pr, stdoutTTY: tc.tty, stdout: writerFunc(func(p []byte) (int, error) {
					if s := string(p); s != "\x1b[?25l" && s != "\x1b[?25h" {
						frames <- s
					}
					return len(p), nil
				})})
			}()
			f1 := <-frames
			if _, _, err := h.st.CancelExecution(context.Background(), exPending, cliNow); err != nil {
				t.Fatal(err)
			}
			fake.Advance(2 * time.Second)
			f2 := <-frames
			fake.Advance(2 * time.Second)
			<-frames
			if _, err := pw.Write([]byte("xq")); err != nil {
				t.Fatal(err)
			}
			r := <-done
			_ = pw.Close()
			expect(t, r, 0)
			tc.check(t, f1, f2)
			if tc.tty && (!strings.HasPrefix(r.stdout, "\x1b[?25l") || !strings.HasSuffix(r.stdout, "\x1b[?25h")) {
				t.Errorf("cursor not hidden and restored")
			}
		})
	}
}
