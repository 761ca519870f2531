package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	plan := benchPlan()
	tests := []struct {
		name  string
		only  string
		check func(c caseSpec) bool
		want  int // -1: any positive count
	}{
		{"an empty filter keeps every case", "", func(caseSpec) bool { return true }, len(plan)},
		{"same-kind tokens are alternatives", "W1,W2", func(c caseSpec) bool { return c.Workload == w1 || c.Workload == w2 }, -1},
		{"different kinds must all match", "stent,sqlite,W1", func(c caseSpec) bool {
			return c.System == sysStent && c.Store == storeSQLite && c.Workload == w1
		}, 1},
		{"a case without variants passes a variant filter", "fast,W1,postgres", func(c caseSpec) bool {
			return c.Workload == w1 && c.Store == storePG && (c.Variant == varFast || c.Variant == "")
		}, 2},
		{"pg is an alias of postgres", "pg,W5", func(c caseSpec) bool { return c.Store == storePG && c.Workload == w5 }, 1},
		{"a W8 load filter keeps the cases at that load", "stent,postgres,W8,200/s,80%", func(c caseSpec) bool {
			return c.System == sysStent && c.Store == storePG && c.Workload == w8 && (c.Rate == 200 || c.RatePct == 80)
		}, 2},
		{"a case without a load passes a load filter", "stent,sqlite,W1,1000/s", func(c caseSpec) bool {
			return c.System == sysStent && c.Store == storeSQLite && c.Workload == w1
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := filter(plan, tt.only)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want >= 0 && len(got) != tt.want || tt.want < 0 && len(got) == 0 {
				t.Fatalf("filter(%q) kept %d cases: %v", tt.only, len(got), got)
			}
			for _, c := range got {
				if !tt.check(c) {
					t.Errorf("filter(%q) kept %s", tt.only, c)
				}
			}
		})
	}
	t.Run("an unknown token is an error naming it", func(t *testing.T) {
		t.Parallel()
		_, err := filter(plan, "stent,W9")
		if err == nil || !strings.Contains(err.Error(), `"W9"`) {
			t.Fatalf("err = %v; want one naming W9", err)
		}
	})
}

func TestPercentileAndSummary(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	tests := []struct {
		name string
		p    float64
		want float64
	}{
		{"p50 is the nearest rank", 50, 5},
		{"p95 of ten values is the largest", 95, 10},
		{"p10 is the smallest", 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(append([]float64(nil), xs...), tt.p); got != tt.want {
				t.Fatalf("percentile(%v) = %v; want %v", tt.p, got, tt.want)
			}
		})
	}
	t.Run("summary gives median min and max without reordering the input", func(t *testing.T) {
		t.Parallel()
		in := []float64{3, 1, 2}
		med, lo, hi := summarize(in)
		if med != 2 || lo != 1 || hi != 3 || in[0] != 3 {
			t.Fatalf("summarize = %v %v %v (input %v)", med, lo, hi, in)
		}
		if med, _, _ := summarize([]float64{1, 2, 3, 4}); med != 2.5 {
			t.Fatalf("median of an even count = %v; want 2.5", med)
		}
	})
}

// throughputRun is one successful run with a throughput metric.
func throughputRun(v float64) runOutcome {
	return runOutcome{Result: runResult{Metrics: []metric{{Name: "throughput", Unit: "units/s", Value: v}}, N: 1, Concurrency: 1}}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stentW1    float64
		riverW1    float64
		stentW2    float64
		dbosW2     float64
		wantFailed bool
	}{
		{"Stent at or above half of the peers passes", 50, 100, 10, 20, false},
		{"Stent's W1 below half of River fails", 49, 100, 10, 20, true},
		{"Stent's W2 below half of DBOS fails", 100, 100, 9, 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r report
			sz := quickSizes()
			for _, st := range []string{storePG, storeSQLite} {
				r.add(caseSpec{System: sysStent, Store: st, Workload: w1}, sz, []runOutcome{throughputRun(tt.stentW1)})
				r.add(caseSpec{System: sysRiver, Variant: varFast, Store: st, Workload: w1}, sz, []runOutcome{throughputRun(tt.riverW1)})
				r.add(caseSpec{System: sysStent, Store: st, Workload: w2}, sz, []runOutcome{throughputRun(tt.stentW2)})
				r.add(caseSpec{System: sysDBOS, Variant: varDirect, Store: st, Workload: w2}, sz, []runOutcome{throughputRun(tt.dbosW2)})
			}
			if err := r.guard(io.Discard); (err != nil) != tt.wantFailed {
				t.Fatalf("guard err = %v; want failure %v", err, tt.wantFailed)
			}
		})
	}
	t.Run("a missing Stent figure fails and a missing peer figure is skipped", func(t *testing.T) {
		t.Parallel()
		var r report
		r.add(caseSpec{System: sysStent, Store: storePG, Workload: w1}, quickSizes(), []runOutcome{{Err: io.ErrUnexpectedEOF}})
		if err := r.guard(io.Discard); err == nil {
			t.Fatal("guard passed without Stent's W1 figure")
		}
	})
}

func TestReportAggregatesRuns(t *testing.T) {
	t.Parallel()
	var r report
	c := caseSpec{System: sysStent, Store: storePG, Workload: w1}
	r.add(c, quickSizes(), []runOutcome{throughputRun(3), throughputRun(1), {Err: io.EOF}, throughputRun(2)})
	if len(r.Rows) != 1 {
		t.Fatalf("rows = %+v", r.Rows)
	}
	rw := r.Rows[0]
	if *rw.Median != 2 || *rw.Min != 1 || *rw.Max != 3 || rw.Runs != 3 || !strings.Contains(rw.Error, "1 of 4 runs failed") {
		t.Fatalf("row = %+v (median %v)", rw, *rw.Median)
	}
	md := r.markdown()
	if !strings.Contains(md, "| stent | postgres | throughput | 2.00 | 1.00 | 3.00 |") {
		t.Fatalf("markdown lacks the row:\n%s", md)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	got, err := withDatabase("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "stent_bench_x")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "/stent_bench_x?") || !strings.Contains(got, "pool_max_conns=20") || !strings.Contains(got, "sslmode=disable") {
		t.Fatalf("withDatabase = %q", got)
	}
	if plain := withoutPoolParams(got); strings.Contains(plain, "pool_") {
		t.Fatalf("withoutPoolParams = %q", plain)
	}
	if _, err := withDatabase("host=x dbname=y", "z"); err == nil {
		t.Fatal("a key=value DSN was accepted; want an error asking for a URL")
	}
}

func TestTimeoutsGrowWithTheWork(t *testing.T) {
	t.Parallel()
	full, quick := fullSizes(), quickSizes()
	c := caseSpec{System: sysStent, Store: storePG, Workload: w1}
	if timeoutFor(c, full, "") <= timeoutFor(c, quick, "") {
		t.Fatal("the full W1 timeout is not longer than the quick one")
	}
	if got := timeoutFor(caseSpec{Workload: w4}, full, ""); got < full.W4Duration+time.Minute {
		t.Fatalf("W4 timeout %s leaves no room after the %s load", got, full.W4Duration)
	}
}

func TestParkedPlan(t *testing.T) {
	t.Parallel()
	t.Run("-only W6 selects the W6 cases of both systems and both stores", func(t *testing.T) {
		t.Parallel()
		got, err := filter(benchPlan(), "W6")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range got {
			if c.Workload != w6 {
				t.Errorf("-only W6 kept %s", c)
			}
			if c.Runs != 1 {
				t.Errorf("%s runs %d times; W6 runs every case once", c, c.Runs)
			}
			seen[c.System+"/"+c.Variant+"/"+c.Store] = true
		}
		for _, want := range []string{"stent/sleep/postgres", "stent/signal/sqlite", "stent/timers/postgres", "stent/spread/sqlite", "dbos/sleep/postgres", "dbos/sleep/sqlite"} {
			if !seen[want] {
				t.Errorf("-only W6 lacks %s: %v", want, got)
			}
		}
	})
	t.Run("W6 variants are filters", func(t *testing.T) {
		t.Parallel()
		got, err := filter(benchPlan(), "W6,timers,sqlite")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Variant != varTimers || got[0].Store != storeSQLite {
			t.Fatalf("filter kept %v", got)
		}
	})
	t.Run("quick runs only a small timer smoke of W6", func(t *testing.T) {
		t.Parallel()
		sz := quickSizes()
		for _, c := range benchPlan() {
			if c.Workload == w6 && c.Quick && (c.Variant != varTimers || c.Store != storeSQLite) {
				t.Errorf("quick includes %s", c)
			}
		}
		if n := w6N(caseSpec{Variant: varTimers}, sz); n > 1000 {
			t.Errorf("quick W6 smoke has %d timers", n)
		}
	})
	t.Run("the large case is larger and has a longer time limit", func(t *testing.T) {
		t.Parallel()
		sz := fullSizes()
		small := caseSpec{System: sysStent, Variant: varSleep, Store: storePG, Workload: w6}
		large := small
		large.Large = true
		if w6N(large, sz) <= w6N(small, sz) || timeoutFor(large, sz, "") <= timeoutFor(small, sz, "") {
			t.Fatalf("large N %d (limit %s), small N %d (limit %s)", w6N(large, sz), timeoutFor(large, sz, ""),
				w6N(small, sz), timeoutFor(small, sz, ""))
		}
	})
}

func TestParkedTargets(t *testing.T) {
	t.Parallel()
	parked := func(rss, goroutines float64, n int) runOutcome {
		return runOutcome{Result: runResult{N: n, Metrics: []metric{
			{Name: "rss", Unit: "MiB", Value: rss}, {Name: "goroutines", Unit: "goroutines", Value: goroutines}}}}
	}
	timers := func(name string, v float64, n int) runOutcome {
		return runOutcome{Result: runResult{N: n, Metrics: []metric{{Name: name, Unit: "ms", Value: v}}}}
	}
	tests := []struct {
		name     string
		rssLarge float64
		gLarge   float64
		resumed  float64
		p99      float64
		want     map[string]bool // target name prefix -> pass
	}{
		{"flat memory, fast wakes pass", 60, 16, 1500, 40, map[string]bool{
			"W6 postgres: Stent worker RSS": true, "W6 postgres: Stent worker goroutines": true,
			"W6 postgres: Stent parked, large / small": true, "W6 postgres: Stent 10000 timers due": true, "W6 postgres: Stent 2000 timers spread": true}},
		{"memory growing with N and slow wakes fail", 160, 15000, 3700, 130, map[string]bool{
			"W6 postgres: Stent worker RSS": false, "W6 postgres: Stent worker goroutines": false,
			"W6 postgres: Stent parked, large / small": false, "W6 postgres: Stent 10000 timers due": false, "W6 postgres: Stent 2000 timers spread": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r report
			sz := fullSizes()
			r.Env.Sizes = sz
			r.add(caseSpec{System: sysStent, Variant: varSleep, Store: storePG, Workload: w6}, sz, []runOutcome{parked(50, 15, 10000)})
			r.add(caseSpec{System: sysStent, Variant: varSleep, Store: storePG, Workload: w6, Large: true}, sz,
				[]runOutcome{parked(tt.rssLarge, tt.gLarge, 100000)})
			r.add(caseSpec{System: sysStent, Variant: varTimers, Store: storePG, Workload: w6}, sz, []runOutcome{timers("all_resumed", tt.resumed, 10000)})
			r.add(caseSpec{System: sysStent, Variant: varSpread, Store: storePG, Workload: w6}, sz, []runOutcome{timers("late_p99", tt.p99, 2000)})
			r.computeRatios()
			for prefix, pass := range tt.want {
				found := false
				for _, rt := range r.Ratios {
					if !strings.HasPrefix(rt.Name, prefix) {
						continue
					}
					found = true
					if rt.Pass == nil || *rt.Pass != pass {
						t.Errorf("%s: pass = %v; want %v (value %v)", rt.Name, rt.Pass, pass, rt.Value)
					}
				}
				if !found {
					t.Errorf("no target named %q...", prefix)
				}
			}
			if md := r.markdown(); !strings.Contains(md, "## W6 parked") {
				t.Errorf("markdown lacks the W6 table:\n%s", md)
			}
		})
	}
}

func TestParkMargin(t *testing.T) {
	t.Parallel()
	if got := parkMargin(storePG, 10000, 1000); got != 22*time.Second {
		t.Errorf("margin at 1,000 parks/s for 10,000 = %s; want 2s + 2 x 10s", got)
	}
	if parkMargin(storePG, 10000, 0) <= parkMargin(storeSQLite, 10000, 0) {
		t.Error("without a measured rate PostgreSQL's margin is not the longer")
	}
	if got := parkMargin(storeSQLite, 10, 100000); got > 2*time.Second+time.Millisecond {
		t.Errorf("margin for a few fast parks = %s; want about 2s", got)
	}
}

// TestRoundTwoGoals checks the targets table against issue 15's goals: W1
// PostgreSQL >= 1.2x River (fast), W1 SQLite >= 4x, W2 >= 6x the best DBOS
// mode, W4 p50 <= 4 ms with a networked notifier, W5 >= 0.95x.
func TestRoundTwoGoals(t *testing.T) {
	t.Parallel()
	tput := func(v float64) []runOutcome {
		return []runOutcome{{Result: runResult{N: 1, Metrics: []metric{{Name: "throughput", Unit: "units/s", Value: v}}}}}
	}
	lat := func(p50, p99 float64) []runOutcome {
		return []runOutcome{{Result: runResult{N: 1, Metrics: []metric{{Name: "p50", Unit: "ms", Value: p50}, {Name: "p99", Unit: "ms", Value: p99}}}}}
	}
	var r report
	sz := fullSizes()
	r.Env.Sizes = sz
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w1}, sz, tput(1150))
	r.add(caseSpec{System: sysRiver, Variant: varFast, Store: storePG, Workload: w1}, sz, tput(1000)) // 1.15x: under 1.2x
	r.add(caseSpec{System: sysStent, Store: storeSQLite, Workload: w1}, sz, tput(4100))
	r.add(caseSpec{System: sysRiver, Variant: varFast, Store: storeSQLite, Workload: w1}, sz, tput(1000)) // 4.1x
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w2}, sz, tput(590))
	r.add(caseSpec{System: sysDBOS, Variant: varDirect, Store: storePG, Workload: w2}, sz, tput(100)) // 5.9x: under 6x
	r.add(caseSpec{System: sysStent, Variant: varRedis, Store: storePG, Workload: w4}, sz, lat(3.9, 20))
	r.add(caseSpec{System: sysStent, Variant: varPGNotify, Store: storePG, Workload: w4}, sz, lat(4.2, 20))
	r.add(caseSpec{System: sysStent, Store: storePG, Workload: w5}, sz, tput(1100)) // 1100 / 1150 = 0.957
	r.computeRatios()
	want := map[string]bool{
		"W1 postgres: Stent / River (fast)": false, "W1 sqlite: Stent / River (fast)": true,
		"W2 postgres: Stent / DBOS": false, "W4 postgres: Stent p50 (redis)": true, "W4 postgres: Stent p50 (pgnotify)": false,
		"W5 postgres": true,
	}
	for prefix, pass := range want {
		found := false
		for _, rt := range r.Ratios {
			if strings.HasPrefix(rt.Name, prefix) {
				found = true
				if rt.Pass == nil || *rt.Pass != pass {
					t.Errorf("%s (goal %s): pass = %v; want %v (value %v)", rt.Name, rt.Target, rt.Pass, pass, *rt.Value)
				}
			}
		}
		if !found {
			t.Errorf("no target named %q...", prefix)
		}
	}
}
