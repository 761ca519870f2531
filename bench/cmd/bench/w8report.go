package main

import (
	"fmt"
	"sort"
	"strings"
)

// w8Fig is one W8 case's figures (medians of its runs).
type w8Fig struct {
	c     caseSpec
	vals  map[string]float64
	rss   float64
	n     int
	err   string
	found bool
}

func (f w8Fig) sustained() bool { return f.found && f.vals["sustained"] >= 0.5 }

// w8Figures collects the W8 cases of the report, in report order.
func (r *report) w8Figures() []*w8Fig {
	var figs []*w8Fig
	by := map[string]*w8Fig{}
	for _, rw := range r.Rows {
		if rw.Workload != w8 {
			continue
		}
		key := rw.c.String()
		f := by[key]
		if f == nil {
			f = &w8Fig{c: rw.c, vals: map[string]float64{}}
			by[key] = f
			figs = append(figs, f)
		}
		if rw.Median == nil {
			f.err = rw.Error
			continue
		}
		f.found, f.rss, f.n = true, rw.PeakRSSMiB, rw.N
		f.vals[rw.Metric] = *rw.Median
		if rw.Error != "" {
			f.err = rw.Error
		}
	}
	return figs
}

// w8Find is the figure of system/variant on store at a load.
func w8Find(figs []*w8Fig, system, variant, store string, rate, pct int) *w8Fig {
	for _, f := range figs {
		c := f.c
		if c.System == system && c.Variant == variant && c.Store == store && c.Rate == rate && c.RatePct == pct {
			return f
		}
	}
	return nil
}

// w8Ratios adds W8's goal rows: at each fixed rate and store, Stent's p99
// must be below the p99 of every peer that sustained the rate (completed
// at least 95% of the offered units). The 80%-of-max loads differ per
// system, so they are info rows.
func (r *report) w8Ratios() {
	figs := r.w8Figures()
	if len(figs) == 0 {
		return
	}
	peers := []struct{ system, variant string }{{sysRiver, varFast}, {sysDBOS, varDirect}}
	for _, store := range []string{storePG, storeSQLite} {
		for _, load := range []struct{ rate, pct int }{{200, 0}, {1000, 0}, {0, 80}} {
			s := w8Find(figs, sysStent, "", store, load.rate, load.pct)
			if s == nil {
				continue
			}
			label := w8LoadLabel(caseSpec{Rate: load.rate, RatePct: load.pct})
			var parts []string
			var best float64 = -1
			for _, p := range peers {
				f := w8Find(figs, p.system, p.variant, store, load.rate, load.pct)
				switch {
				case f == nil:
					continue
				case !f.found:
					parts = append(parts, fmt.Sprintf("%s: error", p.system))
				case !f.sustained():
					parts = append(parts, fmt.Sprintf("%s: not sustained (%s%% completed at %s/s)", p.system, num(f.vals["completed"]), num(f.vals["offered_rate"])))
				default:
					parts = append(parts, fmt.Sprintf("%s p99 %s ms at %s/s", p.system, num(f.vals["p99"]), num(f.vals["offered_rate"])))
					if best < 0 || f.vals["p99"] < best {
						best = f.vals["p99"]
					}
				}
			}
			rt := ratio{Name: fmt.Sprintf("W8 %s @ %s: Stent p99 below every peer's p99", store, label), Target: "< every sustained peer", Unit: "ms"}
			if load.pct > 0 {
				rt.Name = fmt.Sprintf("W8 %s @ %s (each system's own max): Stent p99", store, label)
				rt.Target = "info"
			}
			switch {
			case !s.found:
				parts = append([]string{"Stent: error"}, parts...)
			case !s.sustained():
				v := s.vals["p99"]
				rt.Value = &v
				parts = append([]string{fmt.Sprintf("Stent not sustained (%s%% completed at %s/s)", num(s.vals["completed"]), num(s.vals["offered_rate"]))}, parts...)
				if best >= 0 && load.pct == 0 {
					fail := false
					rt.Pass = &fail
				}
			default:
				v := s.vals["p99"]
				rt.Value = &v
				if load.pct > 0 {
					parts = append([]string{fmt.Sprintf("Stent at %s/s", num(s.vals["offered_rate"]))}, parts...)
				}
				if best >= 0 || load.pct > 0 {
					pass := load.pct > 0 || v < best
					rt.Pass = &pass
				} else if len(parts) == 0 {
					parts = append(parts, "no peer measured")
				} else {
					parts = append(parts, "no peer sustained the rate")
				}
			}
			rt.Note = strings.Join(parts, "; ")
			r.Ratios = append(r.Ratios, rt)
		}
	}
}

// w8Section renders W8: one line per system, store and load.
func (r *report) w8Section(b *strings.Builder) {
	figs := r.w8Figures()
	if len(figs) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", workloadTitles[w8])
	fmt.Fprintf(b, "Open loop: unit i is due at t0 + i/rate whatever happened to the units before it, and is dispatched from its own goroutine. "+
		"Latency runs from the unit's due instant to its result seen by the client (Stent: Dispatch -> Await, one process, in-process notifier; "+
		"DBOS: RunWorkflow -> GetResult, direct; River (fast): Insert -> completion event on a subscription), so a harness or system that falls behind "+
		"shows its queueing. After the window the results still outstanding are waited for up to the drain time; a unit not done by then, "+
		"failed, or not dispatched because %d s of offered load were already in flight counts as not completed, and enters the percentiles "+
		"with its due -> drain-deadline time (a lower bound). Percentiles are nearest-rank over all offered units. "+
		"A load is sustained when at least %.0f%% of the offered units complete. Each case runs once (Runs = 1). "+
		"Before its window every case gets an unmeasured warm-up of %d units/s (or its own rate, if lower) for %s and then, if its rate is higher, "+
		"its own rate for as long, each stage waited for (new connections, catalogue caches and plans of a fresh database, and the connections "+
		"a step up in rate opens, are start-up, not latency under load).\n\n",
		w8MaxInFlightSeconds, 100*w8Sustained, w8WarmRate, w8Warm)
	if len(w8MaxFrom) > 0 {
		keys := make([]string, 0, len(w8MaxFrom))
		for k := range w8MaxFrom {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("W1 maximum behind each 80% load:\n\n")
		for _, k := range keys {
			fmt.Fprintf(b, "- %s: %s\n", k, w8MaxFrom[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("| System | Store | Load | Offered (units/s) | N | Completed | Sustained | p50 (ms) | p99 (ms) | p99.9 (ms) | Completion rate (units/s) | Commits/unit | Peak RSS (MiB) |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range figs {
		sys := f.c.System
		if f.c.Variant != "" {
			sys += " (" + f.c.Variant + ")"
		}
		if !f.found {
			fmt.Fprintf(b, "| %s | %s | %s | | | | | %s | | | | | |\n", sys, f.c.Store, w8LoadLabel(f.c), cell(f.err))
			continue
		}
		v := func(m string) string {
			if x, ok := f.vals[m]; ok {
				return num(x)
			}
			return ""
		}
		sust := "yes"
		if !f.sustained() {
			sust = "**not sustained**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s%% | %s | %s | %s | %s | %s | %s | %.1f |\n", sys, f.c.Store, w8LoadLabel(f.c),
			v("offered_rate"), f.n, v("completed"), sust, v("p50"), v("p99"), v("p99.9"), v("completion_rate"), v("commits_per_unit"), f.rss)
	}
	b.WriteString("\nSettings:\n\n")
	seen := map[string]bool{}
	for _, rw := range r.Rows {
		if rw.Workload != w8 || seen[rw.System+rw.Store] || (rw.Settings == "" && rw.Error == "") {
			continue
		}
		seen[rw.System+rw.Store] = true
		s := rw.Settings
		if s == "" {
			s = rw.Error
		} else if rw.Error != "" {
			s += " — " + rw.Error
		}
		fmt.Fprintf(b, "- %s / %s: %s\n", rw.System, rw.Store, cell(s))
	}
	b.WriteString("\n")
}

// trustHeader is the header lines of issue 15's trust measures: the fsync
// rate of the disk, how runs are ordered, and what commits per unit count.
func trustHeader(e environment) string {
	var b strings.Builder
	if len(e.Fsync) > 0 {
		var parts []string
		for _, p := range e.Fsync {
			if p.Err != "" {
				parts = append(parts, fmt.Sprintf("%s: error %s", p.Dir, p.Err))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s fsyncs/s in %s", num(p.PerSec), p.Dir))
		}
		fmt.Fprintf(&b, "Measured fsync rate (4 KiB write + fsync, in a loop for 1 s, as the bench began): %s. "+
			"A durable commit costs at least one fsync (PostgreSQL's WAL is on the server's disk; here the same machine).\n\n", strings.Join(parts, "; "))
	}
	b.WriteString("Runs are interleaved: for each workload, run 1 of every case, then run 2 of every case, and so on, so a noisy neighbour " +
		"hits every system alike; Min and Max are the spread of the runs. Commits/unit: committed transactions per unit of work in the run " +
		"(PostgreSQL: the pg_stat_database.xact_commit delta of the run's database, read-only transactions and setup included; " +
		"SQLite: write transactions counted by a commit hook on every connection of the run's process; blank where a worker process is not counted).\n\n")
	return b.String()
}

// commitsCell is the commits per unit of the row's case ("" when unknown).
func (r *report) commitsCell(rw row) string {
	for _, o := range r.Rows {
		if o.c == rw.c && o.Metric == "commits_per_unit" && o.Median != nil {
			return num(*o.Median)
		}
	}
	return ""
}
