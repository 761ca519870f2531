package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Figures people can trust (issue 15, part 4): the systems of one workload
// run interleaved, each run's commits are counted, the disk's fsync rate is
// measured, and a full run leaves a line in results/history.jsonl.

// groupByWorkload splits the plan into its workloads, in the order each
// first appears, keeping the plan's order inside each.
func groupByWorkload(plan []caseSpec) [][]caseSpec {
	var groups [][]caseSpec
	at := map[string]int{}
	for _, c := range plan {
		i, ok := at[c.Workload]
		if !ok {
			i = len(groups)
			at[c.Workload] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// runsOf is the number of runs of case c in an invocation of runs runs.
func runsOf(c caseSpec, runs int) int {
	if c.Runs > 0 && c.Runs < runs {
		return c.Runs
	}
	return runs
}

// interleavedOrder is the order the runs of a group are made in: run 1 of
// every case, then run 2 of every case, and so on (A B C A B C ...); a case
// with fewer runs drops out of the later rounds.
func interleavedOrder(group []caseSpec, runs int) []caseSpec {
	var order []caseSpec
	for round := 0; ; round++ {
		added := false
		for _, c := range group {
			if round < runsOf(c, runs) {
				order = append(order, c)
				added = true
			}
		}
		if !added {
			return order
		}
	}
}

// runGroup runs the cases of one workload, interleaved, and adds them to
// the report. W5 keeps its own path: its runs share one preloaded database.
func runGroup(ctx context.Context, o options, group []caseSpec, sz sizes, runs int, rep *report) {
	outs := map[caseSpec][]runOutcome{}
	took := map[caseSpec]time.Duration{}
	var todo []caseSpec
	for _, c := range group {
		if why := unavailable(c); why != "" {
			fmt.Fprintf(os.Stderr, "bench: %-55s n/a: %s\n", c, why)
			rep.addUnavailable(c, sz, why)
			continue
		}
		if c.Workload == w5 {
			t0 := time.Now()
			o5 := runCaseRuns(ctx, o, c, sz, runs, rep)
			reportCase(c, o5, time.Since(t0), rep)
			continue
		}
		if c.Workload == w8 {
			if err := resolveW8Rate(ctx, o, c, sz, rep); err != nil {
				out := runOutcome{Err: err}
				rep.add(c, sz, []runOutcome{out})
				reportCase(c, []runOutcome{out}, 0, rep)
				continue
			}
		}
		todo = append(todo, c)
	}
	for _, c := range interleavedOrder(todo, runs) {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		out := runOnFreshStore(ctx, o, c, sz)
		took[c] += time.Since(t0)
		noteParkRate(c, []runOutcome{out})
		fmt.Fprintf(os.Stderr, "bench:   run %d of %-47s %.1fs %s\n", len(outs[c])+1, c, time.Since(t0).Seconds(), runBrief(out))
		if o.verbose {
			fmt.Fprintf(os.Stderr, "  run %s: %+v err=%v\n", c, out.Result.Metrics, out.Err)
		}
		outs[c] = append(outs[c], out)
	}
	for _, c := range todo {
		rep.add(c, sz, outs[c])
		reportCase(c, outs[c], took[c], rep)
	}
}

// runBrief is one run's headline figure, for the progress lines.
func runBrief(out runOutcome) string {
	if out.Err != nil {
		return "ERROR: " + lastLine(out.Err.Error())
	}
	var parts []string
	for _, m := range out.Result.Metrics {
		switch m.Name {
		case "throughput", "p50", "p99", "completed", "offered_rate", "commits_per_unit", "rss", "late_p99", "all_resumed":
			parts = append(parts, fmt.Sprintf("%s=%s%s", m.Name, num(m.Value), m.Unit))
		}
	}
	return strings.Join(parts, " ")
}

func reportCase(c caseSpec, outs []runOutcome, took time.Duration, rep *report) {
	failed := 0
	for _, out := range outs {
		if out.Err != nil {
			failed++
		}
	}
	fmt.Fprintf(os.Stderr, "bench: %-55s %d runs (%d failed) in %.1fs %s\n", c, len(outs), failed, took.Seconds(), rep.brief(c))
}

// w8Rates are the offered rates of the W8 cases that are a share of a W1
// figure, resolved before their runs.
var w8Rates = map[caseSpec]int{}

// w8MaxFrom says where each system's W1 figure came from (system label /
// store -> "W1 median of this run" or "a W1 calibration run").
var w8MaxFrom = map[string]string{}

// resolveW8Rate sets the offered rate of a W8 case. A share of the W1
// maximum uses the W1 median of this invocation; when W1 did not run for
// the system and store (-only W8), one W1 run measures it first.
func resolveW8Rate(ctx context.Context, o options, c caseSpec, sz sizes, rep *report) error {
	if c.RatePct <= 0 {
		w8Rates[c] = c.Rate
		return nil
	}
	w1c := caseSpec{System: c.System, Variant: c.Variant, Store: c.Store, Workload: w1}
	key := w1c.String()
	max, ok := rep.find(w1, c.Store, "throughput", is(c.System, c.Variant))
	if ok {
		w8MaxFrom[key] = fmt.Sprintf("W1 median %s units/s of this invocation", num(max))
	} else {
		out := runOnFreshStore(ctx, o, w1c, sz)
		if out.Err != nil {
			return fmt.Errorf("%w: the W1 calibration run failed: %v", errNoW1Max, out.Err)
		}
		for _, m := range out.Result.Metrics {
			if m.Name == "throughput" {
				max, ok = m.Value, true
			}
		}
		if !ok {
			return errNoW1Max
		}
		w8MaxFrom[key] = fmt.Sprintf("%s units/s from one W1 calibration run (N=%d; W1 was not in this invocation)", num(max), out.Result.N)
		// Later W8 cases of the same system and store reuse it.
		rep.Rows = append(rep.Rows, row{System: w1c.label() + " (W8 calibration)", Store: c.Store, Workload: "W8-calibration",
			Metric: "throughput", Unit: "units/s", Median: &max, Min: &max, Max: &max, Runs: 1, N: out.Result.N, c: w1c})
	}
	w8Rates[c] = max64(1, int(max*float64(c.RatePct)/100))
	return nil
}

func max64(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// execCounted runs a child and records its committed transactions:
// PostgreSQL from pg_stat_database (dbName), SQLite from the child's commit
// hook.
func execCounted(ctx context.Context, o options, spec runSpec, dbName string) runOutcome {
	var before int64 = -1
	if dbName != "" {
		if n, err := pgXactCommit(ctx, o.adminDSN, dbName); err == nil {
			before = n
		}
	}
	out := execChild(ctx, spec, o.verbose)
	out.Commits = -1
	switch {
	case dbName != "" && before >= 0:
		if n, err := pgXactCommit(ctx, o.adminDSN, dbName); err == nil {
			out.Commits = n - before
		}
	case out.Result.SQLiteCommits != nil:
		out.Commits = *out.Result.SQLiteCommits
	}
	addCommitsPerUnit(&out)
	return out
}

// fsyncProbe is one measured fsync rate.
type fsyncProbe struct {
	Dir    string  `json:"dir"`
	PerSec float64 `json:"per_sec"`
	Err    string  `json:"error,omitempty"`
}

// probeFsync measures the fsync rate on the results disk (out, or the
// temporary directory without one) and, when it is another filesystem, on
// the temporary directory the SQLite runs use.
func probeFsync(out string) []fsyncProbe {
	dirs := []string{os.TempDir()}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err == nil {
			if abs, err := filepath.Abs(out); err == nil {
				dirs = []string{abs}
				if !sameDevice(abs, os.TempDir()) {
					dirs = append(dirs, os.TempDir())
				}
			}
		}
	}
	var probes []fsyncProbe
	for _, d := range dirs {
		rate, err := measureFsync(d, time.Second)
		p := fsyncProbe{Dir: d, PerSec: rate}
		if err != nil {
			p.Err = err.Error()
		}
		probes = append(probes, p)
	}
	return probes
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// fullRun is an unfiltered `make bench`: it leaves a history line.
func fullRun(o options) bool {
	return !o.quick && !o.latency && strings.TrimSpace(o.only) == "" && o.out != ""
}

// historyLine is one line of results/history.jsonl.
type historyLine struct {
	Date      time.Time    `json:"date"`
	Commit    string       `json:"commit"`
	Dirty     bool         `json:"dirty"`
	GoVersion string       `json:"go_version"`
	CPUs      int          `json:"cpus"`
	PGVersion string       `json:"pg_version"`
	Runs      int          `json:"runs"`
	TotalSec  float64      `json:"total_s"`
	LoadStart string       `json:"load_start"`
	LoadEnd   string       `json:"load_end"`
	Fsync     []fsyncProbe `json:"fsync"`
	Ratios    []ratio      `json:"ratios"`
}

// appendHistory appends this run's line to path.
func appendHistory(path string, r *report) error {
	e := r.Env
	h := historyLine{Date: e.Date, GoVersion: e.GoVersion, CPUs: e.CPUs, PGVersion: e.PGVersion, Runs: e.Runs,
		TotalSec: e.Total.Seconds(), LoadStart: e.LoadStart, LoadEnd: e.LoadEnd, Fsync: e.Fsync, Ratios: r.Ratios}
	if b, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		h.Commit = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude,glob)**/results/**").Output(); err == nil {
		h.Dirty = len(strings.TrimSpace(string(b))) > 0
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// runSpread is the spread of a throughput ratio over the interleaved
// rounds: run i of a over run i of b, for every round both completed
// ("" when the runs cannot be paired, e.g. a run failed).
func (r *report) runSpread(workload, store string, a, b func(caseSpec) bool) string {
	var va, vb []float64
	for _, rw := range r.Rows {
		if rw.Workload != workload || rw.Store != store || rw.Metric != "throughput" || rw.Error != "" {
			continue
		}
		if a(rw.c) {
			va = rw.Values
		} else if b(rw.c) {
			vb = rw.Values
		}
	}
	if len(va) < 2 || len(va) != len(vb) {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range va {
		if vb[i] > 0 {
			q := va[i] / vb[i]
			lo, hi = math.Min(lo, q), math.Max(hi, q)
		}
	}
	if math.IsInf(lo, 0) {
		return ""
	}
	return fmt.Sprintf("per-round ratios %s-%sx over %d interleaved rounds", num(lo), num(hi), len(va))
}
