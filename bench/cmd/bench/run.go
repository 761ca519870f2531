package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runSpec is what the parent hands a child process (as JSON in -spec).
type runSpec struct {
	Case  caseSpec
	Sizes sizes
	// PGDSN is the run's own fresh database (PostgreSQL cases).
	PGDSN string
	// SQLitePath is the run's own database file (SQLite cases).
	SQLitePath string
	// Phase "load" preloads W5's finished executions instead of running.
	Phase string
	// RedisURL is the Redis server of the redis notifier variant.
	RedisURL string
	// NotifierPrefix keeps the run's notifier channels apart from any
	// other user of the Redis server.
	NotifierPrefix string
	// Notifier is the notifier variant both W6 processes use (set by the
	// client; see parkNotifierVariant).
	Notifier string
	// ParkRate is the parks per second of the last Stent W6 sleep case on
	// this store in this invocation (0: none ran); the timer cases size
	// their margin by it (parkMargin).
	ParkRate float64
	// Rate is W8's offered rate (units/s), resolved by the parent.
	Rate int
}

// metric is one measured value of one run.
type metric struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	// HigherIsBetter orders the ratio columns.
	HigherIsBetter bool `json:"higher_is_better"`
}

// runResult is what a child reports.
type runResult struct {
	Metrics     []metric `json:"metrics"`
	N           int      `json:"n"`
	Concurrency int      `json:"concurrency"`
	Settings    string   `json:"settings"`
	// SubprocessRSSKiB is the peak RSS of a worker process the child ran
	// (W4 with separate processes), reported to the parent.
	SubprocessRSSKiB int64 `json:"subprocess_rss_kib"`
	// SQLiteCommits counts the write transactions committed on SQLite
	// connections in the child (commits.go); nil on PostgreSQL.
	SQLiteCommits *int64 `json:"sqlite_commits,omitempty"`
}

// runOutcome is a finished run as the parent sees it.
type runOutcome struct {
	Result  runResult
	RSSKiB  int64
	Err     error
	Elapsed time.Duration
	// Commits is the run's committed transactions (commits.go); -1 when
	// unknown.
	Commits int64
}

// timeoutFor bounds one child run so a stuck system fails its row instead
// of the whole bench.
func timeoutFor(c caseSpec, sz sizes, phase string) time.Duration {
	if phase == "load" {
		return 15 * time.Minute
	}
	switch c.Workload {
	case w4:
		return sz.W4Duration + 90*time.Second
	case w8:
		return sz.W8Window + w8Drain(sz) + 90*time.Second
	case w1, w5:
		return 30*time.Second + time.Duration(sz.W1N)*10*time.Millisecond // 20,000 -> 230s
	case w2:
		return 30*time.Second + time.Duration(sz.W2N)*60*time.Millisecond // 2,000 -> 150s
	case w7:
		return flowTimeout(c, sz)
	case w6:
		// Parking (about 1,300/s on PostgreSQL here, a third of that for
		// signal waits), the timers' margin and window, and the wake, with
		// room for a loaded machine: 10,000 -> 3 min (signals 4 min),
		// 100,000 -> 9 min.
		n := w6N(c, sz)
		d := 120*time.Second + 2*parkMargin(c.Store, n, 0) + sz.W6SpreadOver + time.Duration(n)*2*time.Millisecond
		if c.Variant == varSignal {
			d += time.Duration(n) * 6 * time.Millisecond
		}
		return d
	default:
		return 30*time.Second + time.Duration(sz.W3N)*60*time.Millisecond
	}
}

// execChild runs one run of a case in a fresh process of this binary.
func execChild(ctx context.Context, spec runSpec, verbose bool) runOutcome {
	start := time.Now()
	dir, err := os.MkdirTemp("", "stent-bench-result-")
	if err != nil {
		return runOutcome{Err: err}
	}
	defer os.RemoveAll(dir)
	resultPath := filepath.Join(dir, "result.json")
	b, err := json.Marshal(spec)
	if err != nil {
		return runOutcome{Err: err}
	}
	self, err := os.Executable()
	if err != nil {
		return runOutcome{Err: err}
	}
	tctx, cancel := context.WithTimeout(ctx, timeoutFor(spec.Case, spec.Sizes, spec.Phase))
	defer cancel()
	cmd := exec.CommandContext(tctx, self, "-role", "run", "-spec", string(b), "-result", resultPath)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stdout = nil
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runErr := cmd.Run()
	out := runOutcome{Elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			out.RSSKiB = ru.Maxrss // KiB on Linux
		}
	}
	if runErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if tctx.Err() != nil && ctx.Err() == nil {
			out.Err = fmt.Errorf("timed out after %s: %s", timeoutFor(spec.Case, spec.Sizes, spec.Phase), lastLine(msg))
		} else {
			out.Err = fmt.Errorf("%v: %s", runErr, lastLine(msg))
		}
		return out
	}
	rb, err := os.ReadFile(resultPath)
	if err != nil {
		out.Err = fmt.Errorf("child wrote no result: %w", err)
		return out
	}
	if err := json.Unmarshal(rb, &out.Result); err != nil {
		out.Err = fmt.Errorf("child result: %w", err)
		return out
	}
	out.RSSKiB = max(out.RSSKiB, out.Result.SubprocessRSSKiB)
	if verbose && stderr.Len() > 0 {
		fmt.Fprint(os.Stderr, stderr.String())
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w interface{ WriteString(string) (int, error) }
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.WriteString(string(p[:k]))
		l.n -= k
	}
	return len(p), nil
}

// runChild is -role run: one run of one case, result written as JSON.
func runChild(ctx context.Context, o options) error {
	var spec runSpec
	if err := json.Unmarshal([]byte(o.spec), &spec); err != nil {
		return fmt.Errorf("-spec: %w", err)
	}
	countSQLiteCommits(spec)
	res, err := runCase(ctx, spec)
	if err != nil {
		return err
	}
	res.SQLiteCommits = sqliteCommitCount(spec)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(o.result, b, 0o644)
}

var errNotApplicable = errors.New("not applicable")

// runCase dispatches to the system's implementation of the workload.
func runCase(ctx context.Context, spec runSpec) (runResult, error) {
	c := spec.Case
	if c.Workload == w8 {
		return runW8(ctx, spec)
	}
	switch c.System {
	case sysStent:
		if spec.Phase == "load" {
			return preloadGrowth(ctx, spec)
		}
		return runStent(ctx, spec)
	case sysRiver:
		return runRiver(ctx, spec)
	case sysDBOS:
		return runDBOS(ctx, spec)
	}
	return runResult{}, fmt.Errorf("%s: %w", c, errNotApplicable)
}
