package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// row is one line of latest.json: one system x store x workload x metric.
type row struct {
	System      string   `json:"system"`
	Store       string   `json:"store"`
	Workload    string   `json:"workload"`
	Metric      string   `json:"metric"`
	Unit        string   `json:"unit"`
	Median      *float64 `json:"median"`
	Min         *float64 `json:"min"`
	Max         *float64 `json:"max"`
	Runs        int      `json:"runs"`
	N           int      `json:"n"`
	Concurrency int      `json:"concurrency"`
	PeakRSSMiB  float64  `json:"peak_rss_mib"`
	Settings    string   `json:"settings"`
	Error       string   `json:"error,omitempty"`
	// Values are the successful runs' values in run order (interleaved
	// rounds: run i of every case ran in the same round).
	Values []float64 `json:"values,omitempty"`

	c caseSpec
}

// ratio is one target of the issue, computed from rows of this run.
type ratio struct {
	Name   string   `json:"name"`
	Target string   `json:"target"`
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	Pass   *bool    `json:"pass"`
	Note   string   `json:"note,omitempty"`
}

type report struct {
	Env    environment `json:"environment"`
	Rows   []row       `json:"rows"`
	Ratios []ratio     `json:"ratios"`
}

// add aggregates a case's runs into rows (median, min, max over the
// successful runs; a case with no successful run becomes one error row).
func (r *report) add(c caseSpec, sz sizes, outs []runOutcome) {
	var ok []runOutcome
	var errs []string
	for _, o := range outs {
		if o.Err != nil {
			errs = append(errs, o.Err.Error())
			continue
		}
		ok = append(ok, o)
	}
	base := row{System: c.label(), Store: c.Store, Workload: c.Workload, c: c, Concurrency: sz.Concurrency}
	if len(ok) == 0 {
		base.Metric, base.Error = "error", firstOr(errs, "no runs")
		r.Rows = append(r.Rows, base)
		return
	}
	base.N, base.Concurrency, base.Settings = ok[0].Result.N, ok[0].Result.Concurrency, ok[0].Result.Settings
	var rss int64
	for _, o := range ok {
		rss = max(rss, o.RSSKiB)
	}
	base.PeakRSSMiB = math.Round(float64(rss)/1024*10) / 10
	base.Runs = len(ok)
	if len(errs) > 0 {
		base.Error = fmt.Sprintf("%d of %d runs failed: %s", len(errs), len(outs), errs[0])
	}
	for _, m := range ok[0].Result.Metrics {
		var vals []float64
		for _, o := range ok {
			for _, m2 := range o.Result.Metrics {
				if m2.Name == m.Name {
					vals = append(vals, m2.Value)
				}
			}
		}
		med, lo, hi := summarize(vals)
		rw := base
		rw.Metric, rw.Unit = m.Name, m.Unit
		rw.Median, rw.Min, rw.Max = &med, &lo, &hi
		rw.Values = vals
		r.Rows = append(r.Rows, rw)
	}
}

func (r *report) addPreload(c caseSpec, sz sizes, load runOutcome) {
	if load.Err != nil {
		return
	}
	o := load
	o.Result.Concurrency = sz.Concurrency
	r.add(c, sz, []runOutcome{o})
}

func (r *report) addUnavailable(c caseSpec, sz sizes, why string) {
	r.Rows = append(r.Rows, row{System: c.label(), Store: c.Store, Workload: c.Workload, Metric: "n/a",
		Concurrency: sz.Concurrency, Error: why, c: c})
}

func firstOr(xs []string, def string) string {
	if len(xs) == 0 {
		return def
	}
	return xs[0]
}

// find returns the median of a metric of the case matching pred.
func (r *report) find(workload, store, metric string, pred func(caseSpec) bool) (float64, bool) {
	for _, rw := range r.Rows {
		if rw.Workload == workload && rw.Store == store && rw.Metric == metric && rw.Median != nil && pred(rw.c) {
			return *rw.Median, true
		}
	}
	return 0, false
}

// brief is a one-line summary of a case's headline metric.
func (r *report) brief(c caseSpec) string {
	for _, rw := range r.Rows {
		if rw.c != c {
			continue
		}
		if rw.Median == nil {
			return "ERROR: " + rw.Error
		}
		if rw.Metric == "throughput" || rw.Metric == "p50" || (rw.Workload == w3 && rw.Metric == "elapsed") {
			return fmt.Sprintf("%s %s %s", rw.Metric, num(*rw.Median), rw.Unit)
		}
		if rw.Workload == w6 && (rw.Metric == "rss" || rw.Metric == "late_p99") {
			return fmt.Sprintf("N=%d %s %s %s", rw.N, rw.Metric, num(*rw.Median), rw.Unit)
		}
	}
	return ""
}

func is(system, variant string) func(caseSpec) bool {
	return func(c caseSpec) bool { return c.System == system && (variant == "*" || c.Variant == variant) }
}

// bestDBOS is the better DBOS variant's throughput on a store.
func (r *report) bestDBOS(workload, store string) (float64, string, bool) {
	best, which, found := 0.0, "", false
	for _, v := range []string{varDirect, varQueue} {
		if x, ok := r.find(workload, store, "throughput", is(sysDBOS, v)); ok && x > best {
			best, which, found = x, v, true
		}
	}
	return best, which, found
}

// computeRatios evaluates the targets on this run's rows.
func (r *report) computeRatios() {
	r.Ratios = nil
	add := func(name, target, unit string, v float64, ok bool, pass func(float64) bool, note string) {
		rt := ratio{Name: name, Target: target, Unit: unit, Note: note}
		if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			rt.Value = &v
			p := pass(v)
			rt.Pass = &p
		}
		r.Ratios = append(r.Ratios, rt)
	}
	tput := func(workload, store string, pred func(caseSpec) bool) (float64, bool) {
		return r.find(workload, store, "throughput", pred)
	}
	for _, x := range []struct {
		store  string
		target float64
	}{{storePG, 1.2}, {storeSQLite, 4.0}} { // issue 15's goals (issue 2's were 1.0x and 3x)
		s, ok1 := tput(w1, x.store, is(sysStent, ""))
		rv, ok2 := tput(w1, x.store, is(sysRiver, varFast))
		add(fmt.Sprintf("W1 %s: Stent / River (fast)", x.store), fmt.Sprintf(">= %.1fx", x.target), "x",
			s/rv, ok1 && ok2, func(v float64) bool { return v >= x.target }, r.runSpread(w1, x.store, is(sysStent, ""), is(sysRiver, varFast)))
		if rd, ok := tput(w1, x.store, is(sysRiver, varDefaults)); ok && ok1 {
			add(fmt.Sprintf("W1 %s: Stent / River (defaults)", x.store), "info", "x", s/rd, true, func(float64) bool { return true }, "")
		}
	}
	for _, store := range []string{storePG, storeSQLite} {
		s, ok1 := tput(w2, store, is(sysStent, ""))
		d, which, ok2 := r.bestDBOS(w2, store)
		add(fmt.Sprintf("W2 %s: Stent / DBOS (best: %s)", store, which), ">= 6.0x", "x", s/d, ok1 && ok2,
			func(v float64) bool { return v >= 6 }, r.runSpread(w2, store, is(sysStent, ""), is(sysDBOS, which)))
	}
	el, ok := r.find(w3, storePG, "elapsed", is(sysStent, ""))
	add("W3 postgres: Stent 1,000-child fan-out", "< 1000 ms", "ms", el, ok, func(v float64) bool { return v < 1000 },
		fmt.Sprintf("N=%d", r.Env.Sizes.W3N))
	// W4 on PostgreSQL with each networked notifier measured; the
	// in-process one (flagged) if none was.
	networked := 0
	for _, v := range []string{varRedis, varPGNotify, varLocal} {
		if v == varLocal && networked > 0 {
			break
		}
		p50, ok1 := r.find(w4, storePG, "p50", is(sysStent, v))
		p99, ok2 := r.find(w4, storePG, "p99", is(sysStent, v))
		if !ok1 || !ok2 {
			continue
		}
		note := ""
		if v == varLocal {
			note = "no networked notifier measured; in-process notifier, one process"
		} else {
			networked++
		}
		add(fmt.Sprintf("W4 postgres: Stent p50 (%s)", v), "<= 4 ms", "ms", p50, true, func(v float64) bool { return v <= 4 }, note)
		add(fmt.Sprintf("W4 postgres: Stent p99 (%s)", v), "<= 25 ms", "ms", p99, true, func(v float64) bool { return v <= 25 }, note)
	}
	sp50, ok := r.find(w4, storeSQLite, "p50", is(sysStent, varLocal))
	add("W4 sqlite: Stent p50 (one process, in-process notifier)", "<= 2 ms", "ms", sp50, ok, func(v float64) bool { return v <= 2 }, "")
	// W5 against its interleaved baseline on a fresh database (W1 of
	// this run where a report has none).
	g, ok1 := tput(w5, storePG, is(sysStent, ""))
	e, ok2 := tput(w5, storePG, is(sysStent, varEmpty))
	w5Note := r.runSpread(w5, storePG, is(sysStent, ""), is(sysStent, varEmpty))
	if !ok2 {
		e, ok2 = tput(w1, storePG, is(sysStent, ""))
		w5Note = "against W1 of this run"
	}
	if r.Env.Quick {
		w5Note = "not run by -quick"
	}
	add("W5 postgres: Stent W1 with 1M finished / empty tables", ">= 0.95", "x", g/e, ok1 && ok2, func(v float64) bool { return v >= 0.95 }, w5Note)
	r.parkedRatios(add)
	r.w8Ratios()
	r.flowRatios(add)
}

// parkedRatios adds W6's targets per store: the Stent worker's RSS and
// goroutines with every workflow parked (the sleep case at both sizes, the
// signal case and the same-second timers before they fall due), their growth from the small to the large size, the
// same-second timers' wake, and the spread timers' lateness; and DBOS's
// figures beside them (info).
func (r *report) parkedRatios(add func(name, target, unit string, v float64, ok bool, pass func(float64) bool, note string)) {
	type fig struct {
		v  float64
		n  int
		ok bool
	}
	get := func(store, metric string, pred func(caseSpec) bool) fig {
		for _, rw := range r.Rows {
			if rw.Workload == w6 && rw.Store == store && rw.Metric == metric && rw.Median != nil && pred(rw.c) {
				return fig{*rw.Median, rw.N, true}
			}
		}
		return fig{}
	}
	stent := func(variant string, large bool) func(caseSpec) bool {
		return func(c caseSpec) bool { return c.System == sysStent && c.Variant == variant && c.Large == large }
	}
	for _, store := range []string{storePG, storeSQLite} {
		ran := false // a W6 case ran on the store (error rows included)
		for _, rw := range r.Rows {
			ran = ran || rw.Workload == w6 && rw.Store == store
		}
		if !ran {
			continue
		}
		// Memory and goroutines with all parked: the worst of the cases.
		for _, m := range []struct {
			metric, label, unit, goal string
			limit                     float64
		}{{"rss", "RSS", "MiB", "< 150 MiB", 150}, {"goroutines", "goroutines", "", "< 200", 200}} {
			worst, found := 0.0, false
			var parts []string
			for _, c := range []struct {
				variant string
				large   bool
			}{{varSleep, false}, {varSleep, true}, {varSignal, false}, {varTimers, false}} {
				f := get(store, m.metric, stent(c.variant, c.large))
				if !f.ok {
					continue
				}
				worst, found = max(worst, f.v), true
				parts = append(parts, fmt.Sprintf("%s N=%d: %s", c.variant, f.n, num(f.v)))
			}
			add(fmt.Sprintf("W6 %s: Stent worker %s, all parked", store, m.label), m.goal, m.unit, worst, found,
				func(v float64) bool { return v < m.limit }, strings.Join(parts, ", "))
		}
		// Flat as N grows: the large size over the small one.
		growth, found := 0.0, false
		var parts []string
		for _, m := range []string{"rss", "goroutines"} {
			small, large := get(store, m, stent(varSleep, false)), get(store, m, stent(varSleep, true))
			if small.ok && large.ok && small.v > 0 {
				g := large.v / small.v
				growth, found = max(growth, g), true
				parts = append(parts, fmt.Sprintf("%s %s -> %s (N=%d -> %d)", m, num(small.v), num(large.v), small.n, large.n))
			}
		}
		add(fmt.Sprintf("W6 %s: Stent parked, large / small N (sleep; the larger of the RSS and goroutine ratios)", store), "<= 1.5x (flat)", "x",
			growth, found, func(v float64) bool { return v <= 1.5 }, strings.Join(parts, "; "))
		same := get(store, "all_resumed", stent(varTimers, false))
		add(fmt.Sprintf("W6 %s: Stent %d timers due in the same second, due -> all resumed", store, r.Env.Sizes.W6TimersN), "<= 2000 ms", "ms",
			same.v, same.ok, func(v float64) bool { return v <= 2000 }, "")
		spread := get(store, "late_p99", stent(varSpread, false))
		add(fmt.Sprintf("W6 %s: Stent %d timers spread over %s, lateness p99", store, r.Env.Sizes.W6SpreadN, r.Env.Sizes.W6SpreadOver), "<= 100 ms", "ms",
			spread.v, spread.ok, func(v float64) bool { return v <= 100 }, "")
		dbosRSS := get(store, "rss", is(sysDBOS, varSleep))
		if dbosRSS.ok {
			dbosG := get(store, "goroutines", is(sysDBOS, varSleep))
			note := fmt.Sprintf("DBOS N=%d sleeping: %s goroutines", dbosRSS.n, num(dbosG.v))
			if s := get(store, "rss", stent(varSleep, false)); s.ok {
				note += fmt.Sprintf("; Stent worker N=%d parked: %s MiB", s.n, num(s.v))
			}
			add(fmt.Sprintf("W6 %s: DBOS process RSS, all sleeping in dbos.Sleep", store), "info", "MiB", dbosRSS.v, true,
				func(float64) bool { return true }, note)
		}
	}
}

// guard is the CI regression guard: Stent's W1 must be at least half of
// River (fast) on the same store, and Stent's W2 at least half of DBOS's
// better variant, in this run.
func (r *report) guard(w io.Writer) error {
	var fails []string
	check := func(name string, s float64, okS bool, p float64, okP bool) {
		switch {
		case !okS:
			fails = append(fails, name+": Stent has no figure (its runs failed)")
			fmt.Fprintf(w, "guard: %-40s FAIL (no Stent figure)\n", name)
		case !okP:
			fmt.Fprintf(w, "guard: %-40s skipped (no peer figure)\n", name)
		default:
			verdict := "ok"
			if s < 0.5*p {
				verdict = "FAIL"
				fails = append(fails, fmt.Sprintf("%s: %.2fx < 0.5x", name, s/p))
			}
			fmt.Fprintf(w, "guard: %-40s %.2fx (Stent %s, peer %s) %s\n", name, s/p, num(s), num(p), verdict)
		}
	}
	for _, store := range []string{storePG, storeSQLite} {
		s, okS := r.find(w1, store, "throughput", is(sysStent, ""))
		p, okP := r.find(w1, store, "throughput", is(sysRiver, varFast))
		check("W1 "+store+" Stent / River (fast)", s, okS, p, okP)
		s2, okS2 := r.find(w2, store, "throughput", is(sysStent, ""))
		d, _, okD := r.bestDBOS(w2, store)
		check("W2 "+store+" Stent / DBOS", s2, okS2, d, okD)
	}
	if len(fails) > 0 {
		return errors.New("regression guard failed: " + strings.Join(fails, "; "))
	}
	return nil
}

func (r *report) json() ([]byte, error) {
	// latest.json is the list of rows; the environment and the ratios go
	// alongside in the markdown.
	rows := r.Rows
	if rows == nil {
		rows = []row{}
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// num formats a value with precision fit to its size.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
