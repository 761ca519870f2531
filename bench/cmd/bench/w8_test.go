package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	seq := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(n - i) // reversed: percentile sorts
		}
		return xs
	}
	tests := []struct {
		name string
		n    int
		p    float64
		want float64
	}{
		{"p50 of 1..1000 is rank 500", 1000, 50, 500},
		{"p99 of 1..1000 is rank 990", 1000, 99, 990},
		{"p99.9 of 1..1000 is rank 999, not 1000 (float rounding)", 1000, 99.9, 999},
		{"p99.9 of 1..2000 is rank 1998", 2000, 99.9, 1998},
		{"p99.9 of 1..30000 is rank 29970", 30000, 99.9, 29970},
		{"p99.9 of 1..100 rounds the rank up to the largest", 100, 99.9, 100},
		{"p100 is the largest", 10, 100, 10},
		{"p0 is the smallest", 10, 0, 1},
		{"a tiny p is the smallest", 1000, 0.01, 1},
		{"p90 of ten is the ninth", 10, 90, 9},
		{"p91 of ten rounds up to the tenth", 10, 91, 10},
		{"any p of one value is that value", 1, 99.9, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(seq(tt.n), tt.p); got != tt.want {
				t.Fatalf("percentile(1..%d, %v) = %v; want %v", tt.n, tt.p, got, tt.want)
			}
		})
	}
	t.Run("no values is NaN", func(t *testing.T) {
		t.Parallel()
		if got := percentile(nil, 50); got == got {
			t.Fatalf("percentile(nil) = %v; want NaN", got)
		}
	})
}

func TestInterleavedOrder(t *testing.T) {
	t.Parallel()
	a := caseSpec{System: sysStent, Store: storePG, Workload: w1}
	b := caseSpec{System: sysRiver, Variant: varFast, Store: storePG, Workload: w1, Runs: 1}
	c := caseSpec{System: sysDBOS, Variant: varDirect, Store: storePG, Workload: w1}
	got := interleavedOrder([]caseSpec{a, b, c}, 3)
	want := []caseSpec{a, b, c, a, c, a, c}
	if len(got) != len(want) {
		t.Fatalf("order = %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order[%d] = %s; want %s (order %v)", i, got[i], want[i], got)
		}
	}
}

func TestGroupByWorkloadKeepsFirstAppearance(t *testing.T) {
	t.Parallel()
	groups := groupByWorkload(benchPlan())
	var order []string
	total := 0
	for _, g := range groups {
		order = append(order, g[0].Workload)
		for _, c := range g {
			if c.Workload != g[0].Workload {
				t.Fatalf("group %s holds %s", g[0].Workload, c)
			}
		}
		total += len(g)
	}
	if total != len(benchPlan()) {
		t.Fatalf("groups hold %d cases; the plan has %d", total, len(benchPlan()))
	}
	if strings.Join(order, ",") != "W1,W2,W3,W4,W5,W6,W7,W8" {
		t.Fatalf("workload order %v", order)
	}
}

func TestW8Plan(t *testing.T) {
	t.Parallel()
	got, err := filter(benchPlan(), "W8")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 18 {
		t.Fatalf("W8 has %d cases; want 3 systems x 3 loads x 2 stores = 18", len(got))
	}
	quick := 0
	labels := map[string]bool{}
	for _, c := range got {
		if c.Quick {
			quick++
		}
		if (c.Rate > 0) == (c.RatePct > 0) {
			t.Errorf("%s: want exactly one of a fixed rate and a share of W1", c)
		}
		labels[c.String()] = true
	}
	if quick != 1 {
		t.Errorf("%d quick W8 cases; want 1", quick)
	}
	if len(labels) != len(got) {
		t.Errorf("W8 labels are not unique: %v", labels)
	}
	if !labels["stent @ 80% of W1 max / sqlite / W8"] || !labels["river (fast) @ 1000/s / postgres / W8"] {
		t.Errorf("labels %v", labels)
	}
	if d := timeoutFor(got[0], fullSizes(), ""); d < fullSizes().W8Window+w8Drain(fullSizes()) {
		t.Errorf("W8 timeout %s is shorter than its window and drain", d)
	}
}

func TestOpenLoopCountsEveryOfferedUnit(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	o := openLoop(context.Background(), 1000, 50*time.Millisecond, time.Second, func(_ context.Context, i int) error {
		if i%10 == 0 {
			return boom
		}
		return nil
	})
	if o.Offered != 50 || o.Completed != 45 || o.Failed != 5 || o.Skipped != 0 {
		t.Fatalf("outcome %+v; want 50 offered, 45 completed, 5 failed", o)
	}
	if len(o.Latencies) != o.Offered {
		t.Fatalf("%d latencies for %d offered units", len(o.Latencies), o.Offered)
	}
	t.Run("units still waiting at the drain deadline are not completed", func(t *testing.T) {
		t.Parallel()
		o := openLoop(context.Background(), 1000, 20*time.Millisecond, 10*time.Millisecond, func(ctx context.Context, i int) error {
			if i%2 == 0 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if o.Offered != 20 || o.Completed != 10 || o.Failed != 0 || len(o.Latencies) != 20 {
			t.Fatalf("outcome %+v; want 20 offered, 10 completed, none failed", o)
		}
	})
}

func TestW8Metrics(t *testing.T) {
	t.Parallel()
	lat := make([]float64, 100)
	for i := range lat {
		lat[i] = float64(i + 1)
	}
	t0 := time.Unix(100, 0)
	get := func(ms []metric, name string) float64 {
		for _, m := range ms {
			if m.Name == name {
				return m.Value
			}
		}
		t.Fatalf("no metric %s in %v", name, ms)
		return 0
	}
	ms := w8Metrics(w8Outcome{Offered: 100, Completed: 96, Latencies: lat, T0: t0, Last: t0.Add(2 * time.Second)}, 50)
	if get(ms, "p50") != 50 || get(ms, "p99") != 99 || get(ms, "p99.9") != 100 || get(ms, "completed") != 96 ||
		get(ms, "sustained") != 1 || get(ms, "offered_rate") != 50 || get(ms, "completion_rate") != 48 {
		t.Fatalf("metrics %+v", ms)
	}
	ms = w8Metrics(w8Outcome{Offered: 100, Completed: 94, Latencies: lat}, 50)
	if get(ms, "sustained") != 0 {
		t.Fatalf("94%% completed counted as sustained: %+v", ms)
	}
}

// w8Rows builds the rows of one W8 case.
func w8Rows(system, variant, store string, rate int, p99 float64, sustained bool) []row {
	c := caseSpec{System: system, Variant: variant, Store: store, Workload: w8, Rate: rate}
	s := 0.0
	if sustained {
		s = 1
	}
	var rows []row
	for name, v := range map[string]float64{"p99": p99, "sustained": s, "completed": 100 * s, "offered_rate": float64(rate)} {
		v := v
		rows = append(rows, row{System: c.label(), Store: store, Workload: w8, Metric: name, Median: &v, Min: &v, Max: &v, Runs: 1, c: c})
	}
	return rows
}

func TestW8Goal(t *testing.T) {
	t.Parallel()
	verdict := func(rows ...[]row) ratio {
		var r report
		for _, rs := range rows {
			r.Rows = append(r.Rows, rs...)
		}
		r.w8Ratios()
		for _, rt := range r.Ratios {
			if strings.HasPrefix(rt.Name, "W8 postgres @ 200/s") {
				return rt
			}
		}
		t.Fatalf("no W8 postgres 200/s goal row in %+v", r.Ratios)
		return ratio{}
	}
	tests := []struct {
		name string
		rows [][]row
		want string // PASS, FAIL, n/a
	}{
		{"below every sustained peer passes; a peer that did not sustain is left out", [][]row{
			w8Rows(sysStent, "", storePG, 200, 5, true), w8Rows(sysRiver, varFast, storePG, 200, 100, true), w8Rows(sysDBOS, varDirect, storePG, 200, 1, false)}, "PASS"},
		{"above one sustained peer fails", [][]row{
			w8Rows(sysStent, "", storePG, 200, 5, true), w8Rows(sysRiver, varFast, storePG, 200, 100, true), w8Rows(sysDBOS, varDirect, storePG, 200, 4, true)}, "FAIL"},
		{"Stent not sustaining a rate a peer sustains fails", [][]row{
			w8Rows(sysStent, "", storePG, 200, 5, false), w8Rows(sysRiver, varFast, storePG, 200, 100, true)}, "FAIL"},
		{"no sustained peer is n/a", [][]row{
			w8Rows(sysStent, "", storePG, 200, 5, true), w8Rows(sysRiver, varFast, storePG, 200, 1, false)}, "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := verdict(tt.rows...)
			got := "n/a"
			if rt.Pass != nil {
				got = map[bool]string{true: "PASS", false: "FAIL"}[*rt.Pass]
			}
			if got != tt.want {
				t.Fatalf("verdict %s; want %s (%+v, note %q)", got, tt.want, rt, rt.Note)
			}
		})
	}
}

func TestSQLiteCommitHookCountsWriteTransactions(t *testing.T) {
	// Not parallel: the counter is the process's.
	countSQLiteCommits(runSpec{Case: caseSpec{Store: storeSQLite}})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	before := sqliteCommits.Load()
	for _, q := range []string{"CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (4)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := sqliteCommits.Load() - before; got != 4 {
		t.Fatalf("%d commits counted; want 4 (three autocommit writes and one transaction of two; the read is not a commit)", got)
	}
	if c := sqliteCommitCount(runSpec{Case: caseSpec{Store: storeSQLite, Workload: w1}}); c == nil {
		t.Fatal("no count for a one-process SQLite run")
	}
	if c := sqliteCommitCount(runSpec{Case: caseSpec{Store: storeSQLite, Workload: w6, Procs: 2}}); c != nil {
		t.Fatal("a count for a run whose worker is another process")
	}
}

func TestCommitsPerUnit(t *testing.T) {
	t.Parallel()
	out := runOutcome{Result: runResult{N: 200}, Commits: 500}
	addCommitsPerUnit(&out)
	if len(out.Result.Metrics) != 1 || out.Result.Metrics[0].Value != 2.5 {
		t.Fatalf("metrics %+v", out.Result.Metrics)
	}
	unknown := runOutcome{Result: runResult{N: 200}, Commits: -1}
	addCommitsPerUnit(&unknown)
	if len(unknown.Result.Metrics) != 0 {
		t.Fatalf("an unknown count became %+v", unknown.Result.Metrics)
	}
}

func TestHistoryAppendsOneLinePerRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	v, pass := 1.5, true
	r := report{Env: environment{Date: time.Unix(0, 0).UTC(), CPUs: 2}, Ratios: []ratio{{Name: "W1 postgres", Target: ">= 1.0x", Value: &v, Unit: "x", Pass: &pass}}}
	for range 2 {
		if err := appendHistory(path, &r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var h historyLine
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		if len(h.Ratios) != 1 || *h.Ratios[0].Value != 1.5 || h.CPUs != 2 {
			t.Fatalf("line %d: %+v", lines+1, h)
		}
		lines++
	}
	if lines != 2 {
		t.Fatalf("%d lines; want 2", lines)
	}
	if !fullRun(options{out: "results"}) || fullRun(options{out: "results", quick: true}) || fullRun(options{out: "results", only: "W8"}) ||
		fullRun(options{out: ""}) || fullRun(options{out: "results", latency: true}) {
		t.Fatal("fullRun: only an unfiltered, full run with an output directory writes history")
	}
}

func TestMeasureFsync(t *testing.T) {
	t.Parallel()
	rate, err := measureFsync(t.TempDir(), time.Millisecond)
	if err != nil || rate <= 0 {
		t.Fatalf("measureFsync = %v, %v", rate, err)
	}
}

func TestRunSpreadPairsInterleavedRounds(t *testing.T) {
	t.Parallel()
	var r report
	s := caseSpec{System: sysStent, Store: storePG, Workload: w1}
	rv := caseSpec{System: sysRiver, Variant: varFast, Store: storePG, Workload: w1}
	r.add(s, fullSizes(), []runOutcome{
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 100}}}},
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 60}}}},
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 90}}}},
	})
	r.add(rv, fullSizes(), []runOutcome{
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 100}}}},
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 50}}}},
		{Result: runResult{Metrics: []metric{{Name: "throughput", Value: 100}}}},
	})
	// Rounds: 100/100 = 1.0, 60/50 = 1.2, 90/100 = 0.9.
	got := r.runSpread(w1, storePG, is(sysStent, ""), is(sysRiver, varFast))
	if got != "per-round ratios 0.900-1.20x over 3 interleaved rounds" {
		t.Fatalf("spread %q", got)
	}
	if r.runSpread(w2, storePG, is(sysStent, ""), is(sysRiver, varFast)) != "" {
		t.Fatal("a spread without runs")
	}
}

// The warm-up's units are fired and waited for but are not part of the
// measured outcome.
func TestMeasureW8WarmsUpUnmeasured(t *testing.T) {
	t.Parallel()
	spec := runSpec{Rate: 1000, Sizes: sizes{W8Window: 40 * time.Millisecond}}
	var fired atomic.Int64
	o := measureW8(context.Background(), spec, func(context.Context, int) error {
		fired.Add(1)
		return nil
	})
	// The warm-up: w8WarmRate, then the window's own rate, each for
	// w8WarmFor.
	warm := int64((w8WarmRate + 1000) * w8WarmFor(spec.Sizes).Seconds())
	if o.Offered != 40 || o.Completed != 40 {
		t.Fatalf("outcome %+v; want the window's 40 units only", o)
	}
	if got := fired.Load(); got != 40+warm {
		t.Fatalf("%d units fired; want the window's 40 after a warm-up of %d", got, warm)
	}
}

// W5's ratio is taken against the baseline runs interleaved with it on a
// fresh database, not against W1 measured earlier in the bench; W1 is
// the fallback when a report has no baseline.
func TestW5RatioUsesItsInterleavedBaseline(t *testing.T) {
	t.Parallel()
	runs := func(vs ...float64) []runOutcome {
		var out []runOutcome
		for _, v := range vs {
			out = append(out, runOutcome{Result: runResult{Metrics: []metric{{Name: "throughput", Value: v}}}})
		}
		return out
	}
	w5ratio := func(r *report) ratio {
		r.computeRatios()
		for _, rt := range r.Ratios {
			if strings.HasPrefix(rt.Name, "W5 ") {
				return rt
			}
		}
		t.Fatal("no W5 ratio")
		return ratio{}
	}
	var r report
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w1}, fullSizes(), runs(200, 200, 200))
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w5}, fullSizes(), runs(90, 95, 80))
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w5, Variant: varEmpty}, fullSizes(), runs(100, 100, 100))
	rt := w5ratio(&r)
	if rt.Value == nil || *rt.Value != 0.9 || rt.Note != "per-round ratios 0.800-0.950x over 3 interleaved rounds" {
		t.Fatalf("W5 ratio %v, note %q", rt.Value, rt.Note)
	}
	var old report
	old.add(caseSpec{System: sysStent, Store: storePG, Workload: w1}, fullSizes(), runs(200, 200, 200))
	old.add(caseSpec{System: sysStent, Store: storePG, Workload: w5}, fullSizes(), runs(90, 95, 80))
	rt = w5ratio(&old)
	if rt.Value == nil || *rt.Value != 0.45 || rt.Note != "against W1 of this run" {
		t.Fatalf("W5 fallback ratio %v, note %q", rt.Value, rt.Note)
	}
}
