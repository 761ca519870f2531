package main

// W7 flow control (issue 14): W1 with flow limits that never bind, paired
// with W1 without limits in the same child process, and a binding rate
// limit held over a fixed time (see features/059-bench-w7.md).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

const (
	w7 = "W7" // flow control: limits that never bind, and a binding rate limit

	varLimits  = "limits"  // W1 unlimited, with a concurrency key, with a global rate limit: interleaved in one child
	varBinding = "binding" // a global rate limit of flowBindRate/s that binds for flowBindFor

	// flowKeys is the number of concurrency keys of the keyed phase (think
	// customers): a claim of a full worker meets up to that many groups.
	flowKeys = 1000
	// flowKeyLimit is the per-key limit of the keyed phase: above what one
	// key can have running (the worker has Concurrency slots, spread over
	// flowKeys keys), so it never binds.
	flowKeyLimit = 1000
	// flowRate is the global rate limit of the rate phase, per second:
	// ten times the best W1 rate measured here, so it never binds.
	flowRate = 50000
	// flowBindRate is the binding limit, per second.
	flowBindRate = 100
)

func init() {
	workloadTitles[w7] = "W7 flow control: W1 with a concurrency key per unit (1,000 keys, limit never binding) and with a global rate limit above the offered rate, each against W1 without limits in the same child process; and a binding global rate limit of 100/s"
}

// flowPlan lists W7's cases.
func flowPlan() []caseSpec {
	var p []caseSpec
	for _, st := range []string{storePG, storeSQLite} {
		// -quick: the SQLite limits case only, as a smoke run. The
		// binding case runs once (30 s of wall time each).
		p = append(p, caseSpec{System: sysStent, Variant: varLimits, Store: st, Workload: w7, Quick: st == storeSQLite})
		p = append(p, caseSpec{System: sysStent, Variant: varBinding, Store: st, Workload: w7, Runs: 1})
	}
	return p
}

// flowBindFor is how long the binding case's limit binds: 30 s in the full
// bench, 5 s in -quick (told apart by its W1 size).
func flowBindFor(sz sizes) time.Duration {
	if sz.W1N < 20000 {
		return 5 * time.Second
	}
	return 30 * time.Second
}

// flowTimeout bounds one W7 child run.
func flowTimeout(c caseSpec, sz sizes) time.Duration {
	if c.Variant == varBinding {
		return flowBindFor(sz) + 90*time.Second
	}
	return 60*time.Second + time.Duration(sz.W1N)*(2+3*flowRounds)*10*time.Millisecond // a warm-up and the burn-downs
}

// flowRounds is how many interleaved rounds of the limits case one run
// holds. A burn-down of W1's 20,000 units takes 2-3 s, and back-to-back
// unlimited burn-downs on this 2-core machine differed by up to 0.77-1.12x:
// one pair per run made the ratio as noisy as the effect it measures. The
// rounds go none, ckey, rate, none, ckey, rate, ..., none; each limited
// burn-down is compared with the unlimited throughput interpolated at its
// place between the unlimited ones on either side of it, and the run
// reports the median of its rounds' ratios.
const flowRounds = 3

// flowPhases are the burn-downs of the limits case, in their order: every
// limited phase sits between two unlimited ones, and is compared with the
// unlimited throughput interpolated at its place, so a steady drift over
// the child's life (warming up, table and WAL growth, other load) favours
// neither kind.
func flowPhases(rounds int) []string {
	out := []string{"none0"}
	for i := 1; i <= rounds; i++ {
		out = append(out, "ckey"+strconv.Itoa(i), "rate"+strconv.Itoa(i), "none"+strconv.Itoa(i))
	}
	return out
}

// flowKind is the limit of a phase: "none", "ckey" or "rate".
func flowKind(phase string) string { return strings.TrimRight(phase, "0123456789") }

// flowFunction registers the phase's no-op function with its limits.
func flowFunction(reg *app.Registry, phase string, body func()) *app.Function[int, int] {
	noop := func(_ context.Context, i int) (int, error) {
		if body != nil {
			body()
		}
		return i, nil
	}
	name := "bench.w7." + phase
	switch flowKind(phase) {
	case "ckey":
		return app.Register(reg, name, noop, app.WithConcurrency(flowKeyLimit, func(i int) string { return "customer-" + strconv.Itoa(i%flowKeys) }))
	case "rate":
		return app.Register(reg, name, noop, app.WithRateLimit(flowRate, time.Second, func(int) string { return "all" }))
	case "binding":
		return app.Register(reg, name, noop, app.WithRateLimit(flowBindRate, time.Second, func(int) string { return "all" }))
	}
	return app.Register(reg, name, noop)
}

// openFlowStore opens a fresh store for one phase: its own schema in the
// run's PostgreSQL database, or its own SQLite file.
func openFlowStore(ctx context.Context, spec runSpec, phase string) (ports.Store, closer, error) {
	switch spec.Case.Store {
	case storePG:
		st, err := pgxstore.Open(ctx, spec.PGDSN, pgxstore.Config{Schema: "w7_" + phase})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	case storeSQLite:
		st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(filepath.Dir(spec.SQLitePath), phase+".db")})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	return nil, nil, fmt.Errorf("store %q: allowed: %s, %s", spec.Case.Store, storePG, storeSQLite)
}

// flowBurnDown is W1 on a fresh store with the phase's function: n units
// dispatched, then one worker started; the time until the last completes.
// body, if set, runs in each unit.
func flowBurnDown(ctx context.Context, spec runSpec, phase string, n, slots int, body func()) (time.Duration, error) {
	name := "bench.w7." + phase
	counter := newDoneCounter(name, n)
	st, closeStore, err := openFlowStore(ctx, spec, phase)
	if err != nil {
		return 0, err
	}
	reg := app.NewRegistry()
	fn := flowFunction(reg, phase, body)
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Metrics: counter}, app.Config{})
	if err != nil {
		_ = closeStore()
		return 0, err
	}
	s := &stentEngine{eng: eng, st: st, close: closeStore}
	defer s.shutdown()
	if err := dispatchBatches(ctx, n, 5000, func(ins []int) error {
		_, err := fn.DispatchMany(ctx, eng, ins)
		return err
	}); err != nil {
		return 0, fmt.Errorf("%s dispatch: %w", phase, err)
	}
	start, commits0 := time.Now(), sqliteCommits.Load()
	stopProfile := flowProfile(spec, phase)
	if err := s.startWorker(ctx, slots); err != nil {
		stopProfile()
		return 0, err
	}
	end, err := counter.wait(ctx)
	stopProfile()
	if os.Getenv("STENT_BENCH_W7_PROFILE") != "" {
		fmt.Fprintf(os.Stderr, "bench: W7 %s %s: %d units in %s, %d SQLite commits\n", spec.Case.Store, phase, n, end.Sub(start).Round(time.Millisecond), sqliteCommits.Load()-commits0)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", phase, err)
	}
	if err := verifyCount(ctx, int64(n), s.countCompleted); err != nil {
		return 0, fmt.Errorf("%s: %w", phase, err)
	}
	return end.Sub(start), nil
}

// flowProfile, when STENT_BENCH_W7_PROFILE names a directory, takes a CPU
// profile of the child over one burn-down (worker start to the last
// completion), written to <dir>/<store>-<phase>.cpu.pprof, and returns
// the function that stops it. Diagnostics only.
func flowProfile(spec runSpec, phase string) func() {
	dir := os.Getenv("STENT_BENCH_W7_PROFILE")
	if dir == "" {
		return func() {}
	}
	if err := toggleCPUProfile(filepath.Join(dir, spec.Case.Store+"-"+phase+".cpu.pprof")); err != nil {
		fmt.Fprintf(os.Stderr, "bench: W7 profile: %v\n", err)
		return func() {}
	}
	return func() {
		if err := toggleCPUProfile(""); err != nil {
			fmt.Fprintf(os.Stderr, "bench: W7 profile: %v\n", err)
		}
	}
}

// stentFlow runs one W7 case.
func stentFlow(ctx context.Context, spec runSpec) (runResult, error) {
	if spec.Case.Variant == varBinding {
		return stentFlowBinding(ctx, spec)
	}
	sz := spec.Sizes
	n, slots := sz.W1N, sz.Concurrency
	// A discarded unlimited burn-down first: the first burn-down of a
	// child ran up to 2x slower than the last on PostgreSQL here (a cold
	// process, pool and server cache), which skewed the pairing.
	if _, err := flowBurnDown(ctx, spec, "warmup", max(n/4, 100), slots, nil); err != nil {
		return runResult{}, err
	}
	tput := map[string]float64{}
	for _, ph := range flowPhases(flowRounds) {
		d, err := flowBurnDown(ctx, spec, ph, n, slots, nil)
		if err != nil {
			return runResult{}, err
		}
		tput[ph] = float64(n) / d.Seconds()
	}
	r := flowRatios(tput, flowRounds)
	ms := []metric{
		{Name: "throughput_none", Unit: "units/s", Value: r.none, HigherIsBetter: true},
		{Name: "throughput_ckey", Unit: "units/s", Value: r.ckey, HigherIsBetter: true},
		{Name: "throughput_rate", Unit: "units/s", Value: r.rate, HigherIsBetter: true},
		{Name: "ratio_ckey", Unit: "x", Value: r.ratioCkey, HigherIsBetter: true},
		{Name: "ratio_rate", Unit: "x", Value: r.ratioRate, HigherIsBetter: true},
		// The unlimited baselines' spread (max / min): the noise the
		// pairing works against.
		{Name: "baseline_drift", Unit: "x", Value: r.drift},
	}
	return runResult{Metrics: ms, N: n, Concurrency: slots,
		Settings: fmt.Sprintf("1 worker, MaxConcurrency=%d, default poll; a discarded warm-up of N/4, then %d rounds none, ckey, rate and a last none (fresh store each; PostgreSQL: a schema each); "+
			"ckey: WithConcurrency(%d) over %d keys; rate: WithRateLimit(%d, 1s) on one key; each limited phase over the unlimited throughput interpolated at its place between the unlimited phases either side of it, median over the rounds",
			slots, flowRounds, flowKeyLimit, flowKeys, flowRate)}, nil
}

// flowRatioSet is one limits run's figures: median throughputs per kind,
// the median over the rounds of each limited phase's ratio to the
// unlimited throughput interpolated at its place between its neighbouring
// unlimited phases, and the baselines' max / min.
type flowRatioSet struct {
	none, ckey, rate     float64
	ratioCkey, ratioRate float64
	drift                float64
}

// flowRatios computes a run's figures from the throughput of each phase of
// flowPhases(rounds).
func flowRatios(tput map[string]float64, rounds int) flowRatioSet {
	var nones, ckeys, rates, rc, rr []float64
	nones = append(nones, tput["none0"])
	for i := 1; i <= rounds; i++ {
		k := strconv.Itoa(i)
		// The unlimited throughput where each limited phase ran: a third
		// and two thirds of the way from the unlimited phase before to the
		// one after (features/073).
		before, after := tput["none"+strconv.Itoa(i-1)], tput["none"+k]
		atCkey, atRate := before+(after-before)/3, before+2*(after-before)/3
		nones = append(nones, after)
		ckeys, rates = append(ckeys, tput["ckey"+k]), append(rates, tput["rate"+k])
		rc, rr = append(rc, tput["ckey"+k]/atCkey), append(rr, tput["rate"+k]/atRate)
	}
	med := func(xs []float64) float64 { m, _, _ := summarize(xs); return m }
	return flowRatioSet{none: med(nones), ckey: med(ckeys), rate: med(rates),
		ratioCkey: med(rc), ratioRate: med(rr), drift: slices.Max(nones) / slices.Min(nones)}
}

// stentFlowBinding dispatches flowBindRate x (flowBindFor + 1 s) units of a
// function limited to flowBindRate per second, starts the worker, and
// measures the start rate from the units' own start times: the starts
// after the first window over the time from the first start to the last.
// (That no window ever holds more than the limit is the claim's own
// clock's business, checked from the stored start times by
// tests/flowlimits; the bodies start a few ms after their claim commits,
// with jitter, so their clocks cannot show it.)
func stentFlowBinding(ctx context.Context, spec runSpec) (runResult, error) {
	sz := spec.Sizes
	secs := int(flowBindFor(sz) / time.Second)
	n := flowBindRate * (secs + 1)
	var mu sync.Mutex
	starts := make([]time.Time, 0, n)
	body := func() {
		now := time.Now()
		mu.Lock()
		starts = append(starts, now)
		mu.Unlock()
	}
	if _, err := flowBurnDown(ctx, spec, "binding", n, sz.Concurrency, body); err != nil {
		return runResult{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	span := starts[len(starts)-1].Sub(starts[0])
	rate := float64(n-flowBindRate) / span.Seconds()
	return runResult{Metrics: []metric{
		{Name: "rate", Unit: "starts/s", Value: rate, HigherIsBetter: true},
		{Name: "span", Unit: "s", Value: span.Seconds()},
	}, N: n, Concurrency: sz.Concurrency,
		Settings: fmt.Sprintf("1 worker, MaxConcurrency=%d, default poll; WithRateLimit(%d, 1s) on one key; %d units pending at worker start; "+
			"rate = starts after the first window / (last start - first start), from the bodies' clocks", sz.Concurrency, flowBindRate, n)}, nil
}

// flowRatios adds W7's targets per store.
func (r *report) flowRatios(add func(name, target, unit string, v float64, ok bool, pass func(float64) bool, note string)) {
	for _, st := range []string{storePG, storeSQLite} {
		ran := map[string]bool{} // variants run on the store (error rows included)
		for _, rw := range r.Rows {
			if rw.Workload == w7 && rw.Store == st {
				ran[rw.c.Variant] = true
			}
		}
		limits := is(sysStent, varLimits)
		for _, m := range []struct{ metric, label string }{
			{"ratio_ckey", "concurrency key (never binding)"},
			{"ratio_rate", "global rate limit above the offered rate"},
		} {
			if !ran[varLimits] {
				break
			}
			v, ok := r.find(w7, st, m.metric, limits)
			drift, _ := r.find(w7, st, "baseline_drift", limits)
			add(fmt.Sprintf("W7 %s: Stent W1 with a %s / W1 without limits", st, m.label), ">= 0.90", "x", v, ok,
				func(v float64) bool { return v >= 0.90 }, fmt.Sprintf("median over runs of each run's median round ratio (%d interleaved rounds per run); baselines' max/min %s", flowRounds, num(drift)))
		}
		if !ran[varBinding] {
			continue
		}
		v, ok := r.find(w7, st, "rate", is(sysStent, varBinding))
		span, _ := r.find(w7, st, "span", is(sysStent, varBinding))
		add(fmt.Sprintf("W7 %s: Stent binding rate limit of %d/s", st, flowBindRate), "98-102 /s", "/s", v, ok,
			func(v float64) bool { return v >= 0.98*flowBindRate && v <= 1.02*flowBindRate }, fmt.Sprintf("over %s s", num(span)))
	}
}
