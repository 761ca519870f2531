package main

import (
	"fmt"
	"strings"
	"time"
)

// markdown renders the report: environment, one table per workload, the
// settings of each row, and the targets as ratios of this run.
func (r *report) markdown() string {
	var b strings.Builder
	e := r.Env
	mode := "full (`make bench`)"
	switch {
	case e.Latency:
		mode = "latency (`make bench-latency`)"
	case e.Quick:
		mode = "quick (`make bench-quick`: reduced sizes and cases, a smoke run, not the figures of record)"
	}
	fmt.Fprintf(&b, "# Stent benchmark: %s\n\n", mode)
	fmt.Fprintf(&b, "Measured %s on %d CPUs, %s; PostgreSQL %s (local server, synchronous_commit=%s, shared_buffers=%s, one fresh database per run); "+
		"SQLite files on disk in WAL mode (synchronous per row). Every figure is the median of the runs, with min and max; "+
		"peak RSS is the client process's (and its worker process's, where one runs), not the database server's. Total %s.\n\n",
		e.Date.Format(time.RFC3339), e.CPUs, e.GoVersion, e.PGVersion, e.SyncCommit, e.SharedBuf, e.Total.Round(time.Second))
	if e.LoadStart != "" || e.LoadEnd != "" {
		fmt.Fprintf(&b, "Load average (1, 5, 15 min) as the bench began: %s; as it ended: %s (other work on the machine skews the figures).\n\n",
			e.LoadStart, e.LoadEnd)
	}
	b.WriteString(trustHeader(e))
	if !e.Latency && len(r.Ratios) > 0 {
		b.WriteString("## Targets (ratios between systems measured in this run)\n\n")
		b.WriteString("| Target | Value | Goal | Result |\n|---|---|---|---|\n")
		for _, rt := range r.Ratios {
			val, res := "n/a", "n/a"
			if rt.Value != nil {
				val = num(*rt.Value) + " " + rt.Unit
			}
			if rt.Pass != nil && rt.Target != "info" {
				res = map[bool]string{true: "PASS", false: "FAIL"}[*rt.Pass]
			} else if rt.Target == "info" {
				res = "-"
			}
			if rt.Note != "" {
				res += " (" + rt.Note + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", rt.Name, val, rt.Target, res)
		}
		b.WriteString("\n")
	}
	if e.Latency {
		r.latencyTable(&b)
		return b.String()
	}
	for _, wl := range []string{w1, w2, w3, w4, w5, w6, w7, w8} {
		if wl == w8 {
			r.w8Section(&b)
			continue
		}
		var rows []row
		for _, rw := range r.Rows {
			if rw.Workload == wl {
				rows = append(rows, rw)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n", workloadTitles[wl])
		switch wl {
		case w2:
			b.WriteString("River: n/a (River has no workflows or checkpointed child steps).\n\n")
		case w3:
			b.WriteString("River: n/a (no workflow that gathers its children's results).\n\n")
		case w6:
			b.WriteString(parkedIntro)
		}
		b.WriteString("| System | Store | Metric | Median | Min | Max | Unit | Runs | N | Concurrency | Commits/unit | Peak RSS (MiB) |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
		for _, rw := range rows {
			if rw.Median == nil {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | | | | %d | %d | %d | | |\n", rw.System, rw.Store, rw.Metric, cell(rw.Error), rw.Runs, rw.N, rw.Concurrency)
				continue
			}
			if rw.Metric == "commits_per_unit" {
				continue // shown in its column
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d | %d | %d | %s | %.1f |\n", rw.System, rw.Store, rw.Metric,
				num(*rw.Median), num(*rw.Min), num(*rw.Max), rw.Unit, rw.Runs, rw.N, rw.Concurrency, r.commitsCell(rw), rw.PeakRSSMiB)
		}
		b.WriteString("\nSettings:\n\n")
		seen := map[string]bool{}
		for _, rw := range rows {
			key := fmt.Sprintf("%s|%s|%d", rw.System, rw.Store, rw.N)
			if seen[key] || rw.Settings == "" && rw.Error == "" {
				continue
			}
			seen[key] = true
			s := rw.Settings
			switch {
			case s == "":
				s = rw.Error
			case rw.Error != "" && rw.Median != nil:
				s += " — " + rw.Error
			}
			if wl == w6 {
				fmt.Fprintf(&b, "- %s / %s / N=%d: %s\n", rw.System, rw.Store, rw.N, cell(s))
				continue
			}
			fmt.Fprintf(&b, "- %s / %s: %s\n", rw.System, rw.Store, cell(s))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cell makes text safe in a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// latencyTable is the issue 4 table: one line per notifier setup, the
// percentiles of dispatch -> result and dispatch -> task start.
func (r *report) latencyTable(b *strings.Builder) {
	b.WriteString("Stent, no-op function, steady offered rate; dispatch -> result seen by a waiting client (eng.WaitFor) " +
		"and dispatch -> task start (the function body's clock), in ms.\n\n")
	b.WriteString("| Setup | Store | Processes | N | result p50 | p95 | p99 | start p50 | p95 | p99 | Peak RSS (MiB) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	type line struct {
		c    caseSpec
		vals map[string]row
		err  string
	}
	var lines []*line
	byCase := map[caseSpec]*line{}
	for _, rw := range r.Rows {
		l := byCase[rw.c]
		if l == nil {
			l = &line{c: rw.c, vals: map[string]row{}}
			byCase[rw.c] = l
			lines = append(lines, l)
		}
		if rw.Median == nil {
			l.err = rw.Error
			continue
		}
		l.vals[rw.Metric] = rw
	}
	for _, l := range lines {
		procs := max(l.c.Procs, 1)
		setup := map[string]string{varPoll: "polling only", varLocal: "in-process notifier", varRedis: "Redis notifier", varPGNotify: "PostgreSQL notifier"}[l.c.Variant]
		if l.err != "" {
			fmt.Fprintf(b, "| %s | %s | %d | | %s | | | | | | |\n", setup, l.c.Store, procs, cell(l.err))
			continue
		}
		v := func(m string) string {
			if rw, ok := l.vals[m]; ok {
				return num(*rw.Median)
			}
			return ""
		}
		p50 := l.vals["p50"]
		fmt.Fprintf(b, "| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %.1f |\n", setup, l.c.Store, procs, p50.N,
			v("p50"), v("p95"), v("p99"), v("start_p50"), v("start_p95"), v("start_p99"), p50.PeakRSSMiB)
	}
	b.WriteString("\n")
}

// parkedIntro explains W6's rows.
const parkedIntro = `Stent: the client (dispatch, signals) and the worker run in two processes on one store; ` +
	"`rss` (VmRSS), `goroutines` (runtime.NumGoroutine) and `heap_inuse` are read inside the worker process 200 ms after the store shows every root task " +
	"waiting (parked); `worker_peak_rss` is its VmHWM then; `idle_*` are the same figures before the first dispatch. " +
	"`dispatch_rate`: workflows dispatched per second (DispatchMany, 5,000 per transaction); `park_time`: first dispatch -> all parked. " +
	"Timers: `late_*` is, per workflow, the first instruction after app.Sleep returned (worker's wall clock) minus its due instant; for timers due in the same second " +
	"`all_resumed` is the time from the due instant until the last one resumed, `all_completed` until the last completion was committed. " +
	"Signals: `signal_*` is send -> first instruction after app.WaitForSignal returned; `wake_all` first send -> last completion. " +
	"DBOS runs workflows in the process that starts them: its figures are that process's, once every workflow's DBOS.sleep step is checkpointed " +
	"(each sleeping workflow is a goroutine blocked on a timer). Runs: every W6 case runs once (Runs = 1), the 100,000 case included, " +
	"to keep W6 to a few minutes (5-7 on 2 CPUs). The Peak RSS column is the larger of the client's and the worker's peaks over the whole run (the wake included).\n\n"
