package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Systems, variants, stores and workloads.
const (
	sysStent = "stent"
	sysRiver = "river"
	sysDBOS  = "dbos"

	storePG     = "postgres"
	storeSQLite = "sqlite"

	// River variants.
	varFast     = "fast"     // FetchCooldown 2ms, FetchPollInterval 20ms, MaxWorkers 1000
	varDefaults = "defaults" // FetchCooldown 100ms, FetchPollInterval 1s, MaxWorkers 100
	// DBOS variants.
	varDirect = "direct" // RunWorkflow in-process
	varQueue  = "queue"  // through a WorkflowQueue
	// Stent W4 notifier variants.
	varLocal    = "local"    // app.LocalNotifier, client and worker in one process
	varPoll     = "poll"     // no notifier: polling only
	varRedis    = "redis"    // adapters/redisnotify, separate processes
	varPGNotify = "pgnotify" // adapters/pgnotify, separate processes
	// W6 variants (Stent; DBOS: sleep only).
	varSleep  = "sleep"  // N workflows each sleeping 60s, measured once all are parked
	varSignal = "signal" // N workflows each waiting for a signal, then woken by the bench's signals
	varTimers = "timers" // N timers falling due in the same wall-clock second
	varSpread = "spread" // timers falling due spread uniformly over a window

	varEmpty = "empty tables" // W5's baseline: the same run on a fresh database, interleaved with W5's runs

	w1 = "W1" // burn-down
	w2 = "W2" // workflows of 10 sequential steps
	w3 = "W3" // fan-out
	w4 = "W4" // latency at a steady rate
	w5 = "W5" // W1 with 1,000,000 finished executions in the tables
	w6 = "W6" // parked workflows: memory, goroutines and wake lateness
	w8 = "W8" // latency under a fixed offered load (w8.go)
)

var workloadTitles = map[string]string{
	w1: "W1 burn-down: N no-op units inserted first, then workers start; time until the last completes",
	w2: "W2 workflows: workflows of 10 sequential no-op child steps, dispatched to running workers; time until the last completes",
	w3: "W3 fan-out: one workflow maps over N children and gathers the results",
	w4: "W4 latency: steady dispatch rate; dispatch -> result seen by a waiting client",
	w5: "W5 growth: W1 with 1,000,000 finished executions already in the PostgreSQL tables",
	w6: "W6 parked: N workflows blocked on a sleep or a signal; the worker process's memory and goroutines once all are parked, and wake lateness",
	w8: "W8 latency under a fixed offered load: open-loop dispatch at 200/s, 1,000/s and 80% of each system's W1 throughput; due -> result seen",
}

// sizes are the workload parameters of one bench invocation.
type sizes struct {
	W1N         int
	W2N         int
	W3N         int
	W4Rate      int
	W4Duration  time.Duration
	W5Preload   int
	Concurrency int // worker slots: Stent MaxConcurrency, River MaxWorkers, DBOS queue worker concurrency
	// W6: parked workflows.
	W6N        int           // workflows of the sleep and signal cases (and DBOS's sleep case)
	W6LargeN   int           // the same at the large size (run once)
	W6SleepFor time.Duration // the sleep of the sleep case
	// W6LargeSleepFor is the sleep at W6LargeN: parking 100,000 takes more
	// than 60 s on PostgreSQL here, so the first would wake before the last
	// parked.
	W6LargeSleepFor time.Duration
	W6TimersN       int // timers falling due in the same second
	W6SpreadN       int // timers spread over W6SpreadOver
	W6SpreadOver    time.Duration
	W6Slots         int // the Stent worker's MaxConcurrency in W6
	// W8Window is how long W8 offers its load (-w8window).
	W8Window time.Duration
}

func fullSizes() sizes {
	return sizes{W1N: 20000, W2N: 2000, W3N: 1000, W4Rate: 200, W4Duration: 10 * time.Second, W5Preload: 1000000, Concurrency: 1000,
		W6N: 10000, W6LargeN: 100000, W6SleepFor: 60 * time.Second, W6LargeSleepFor: 10 * time.Minute, W6TimersN: 10000, W6SpreadN: 2000, W6SpreadOver: 20 * time.Second, W6Slots: 500,
		W8Window: 30 * time.Second}
}

func quickSizes() sizes {
	// W6: one smoke case, 500 same-second timers on SQLite.
	return sizes{W1N: 2000, W2N: 200, W3N: 200, W4Rate: 200, W4Duration: 2 * time.Second, Concurrency: 1000,
		W6N: 500, W6LargeN: 500, W6SleepFor: 60 * time.Second, W6LargeSleepFor: 10 * time.Minute, W6TimersN: 500, W6SpreadN: 100, W6SpreadOver: 2 * time.Second, W6Slots: 500,
		W8Window: 2 * time.Second}
}

func latencySizes() sizes {
	// Issue 4: at least 1,000 executions at a steady offered rate.
	return sizes{W4Rate: 200, W4Duration: 5 * time.Second, Concurrency: 1000}
}

// caseSpec is one system x variant x store x workload.
type caseSpec struct {
	System   string
	Variant  string
	Store    string
	Workload string
	// Procs is 2 when the Stent worker runs in its own process (W4 with
	// a networked notifier, or polling across processes).
	Procs int
	// Quick includes the case in -quick.
	Quick bool
	// Extra cases run only with -extra (they would push `make bench`
	// past its 15 minutes).
	Extra bool
	// Large runs W6 at Sizes.W6LargeN instead of W6N.
	Large bool
	// Runs caps the runs of the case (0: the invocation's -runs).
	Runs int
	// W8: the offered rate, fixed (Rate, units/s) or a share of the
	// system's W1 throughput in the same invocation (RatePct, percent).
	Rate    int
	RatePct int
}

// label is the "system" column of the report: the system and its variant.
func (c caseSpec) label() string {
	l := c.System
	switch {
	case c.Variant == "":
	case c.Procs > 1:
		l = fmt.Sprintf("%s (%s, %d procs)", c.System, c.Variant, c.Procs)
	default:
		l = fmt.Sprintf("%s (%s)", c.System, c.Variant)
	}
	if c.Workload == w8 {
		l += " @ " + w8LoadLabel(c)
	}
	return l
}

func (c caseSpec) String() string {
	s := c.label() + " / " + c.Store + " / " + c.Workload
	if c.Large {
		s += " (large N)"
	}
	return s
}

// benchPlan lists the cases of `make bench` (quick: the ones marked Quick).
func benchPlan() []caseSpec {
	var p []caseSpec
	add := func(c caseSpec) { p = append(p, c) }
	for _, st := range []string{storePG, storeSQLite} {
		add(caseSpec{System: sysStent, Store: st, Workload: w1, Quick: true})
		add(caseSpec{System: sysRiver, Variant: varFast, Store: st, Workload: w1, Quick: true})
		add(caseSpec{System: sysRiver, Variant: varDefaults, Store: st, Workload: w1})
		add(caseSpec{System: sysDBOS, Variant: varDirect, Store: st, Workload: w1, Quick: true})
		add(caseSpec{System: sysDBOS, Variant: varQueue, Store: st, Workload: w1})
	}
	for _, st := range []string{storePG, storeSQLite} {
		add(caseSpec{System: sysStent, Store: st, Workload: w2, Quick: true})
		add(caseSpec{System: sysDBOS, Variant: varDirect, Store: st, Workload: w2, Quick: true})
		add(caseSpec{System: sysDBOS, Variant: varQueue, Store: st, Workload: w2})
	}
	for _, st := range []string{storePG, storeSQLite} {
		add(caseSpec{System: sysStent, Store: st, Workload: w3, Quick: true})
		add(caseSpec{System: sysDBOS, Variant: varDirect, Store: st, Workload: w3})
		add(caseSpec{System: sysDBOS, Variant: varQueue, Store: st, Workload: w3, Quick: true})
	}
	add(caseSpec{System: sysStent, Variant: varLocal, Store: storeSQLite, Workload: w4, Procs: 1, Quick: true})
	add(caseSpec{System: sysStent, Variant: varLocal, Store: storePG, Workload: w4, Procs: 1, Quick: true})
	add(caseSpec{System: sysStent, Variant: varPoll, Store: storePG, Workload: w4, Procs: 2})
	add(caseSpec{System: sysStent, Variant: varRedis, Store: storePG, Workload: w4, Procs: 2, Quick: true})
	add(caseSpec{System: sysStent, Variant: varPGNotify, Store: storePG, Workload: w4, Procs: 2, Quick: true})
	add(caseSpec{System: sysRiver, Variant: varFast, Store: storePG, Workload: w4, Quick: true})
	add(caseSpec{System: sysRiver, Variant: varFast, Store: storeSQLite, Workload: w4, Extra: true})
	add(caseSpec{System: sysDBOS, Variant: varDirect, Store: storePG, Workload: w4, Quick: true})
	add(caseSpec{System: sysDBOS, Variant: varDirect, Store: storeSQLite, Workload: w4, Extra: true})
	add(caseSpec{System: sysStent, Store: storePG, Workload: w5})
	// W6 runs every case once: parking is about 1,300/s on PostgreSQL here,
	// so the 100,000 case alone takes 80-90 s, and W6 takes 5-7 minutes on
	// 2 CPUs.
	for _, st := range []string{storePG, storeSQLite} {
		add(caseSpec{System: sysStent, Variant: varSleep, Store: st, Workload: w6, Procs: 2, Runs: 1})
		add(caseSpec{System: sysStent, Variant: varSleep, Store: st, Workload: w6, Procs: 2, Large: true, Runs: 1})
		add(caseSpec{System: sysStent, Variant: varSignal, Store: st, Workload: w6, Procs: 2, Runs: 1})
		add(caseSpec{System: sysStent, Variant: varTimers, Store: st, Workload: w6, Procs: 2, Runs: 1, Quick: st == storeSQLite})
		add(caseSpec{System: sysStent, Variant: varSpread, Store: st, Workload: w6, Procs: 2, Runs: 1})
		add(caseSpec{System: sysDBOS, Variant: varSleep, Store: st, Workload: w6, Runs: 1})
	}
	p = append(p, flowPlan()...)
	return append(p, w8Plan()...)
}

// latencyPlan lists the cases of `make bench-latency` (issue 4).
func latencyPlan() []caseSpec {
	return []caseSpec{
		{System: sysStent, Variant: varPoll, Store: storeSQLite, Workload: w4, Procs: 1},
		{System: sysStent, Variant: varLocal, Store: storeSQLite, Workload: w4, Procs: 1},
		{System: sysStent, Variant: varPoll, Store: storePG, Workload: w4, Procs: 2},
		{System: sysStent, Variant: varRedis, Store: storePG, Workload: w4, Procs: 2},
		{System: sysStent, Variant: varPGNotify, Store: storePG, Workload: w4, Procs: 2},
	}
}

// filter keeps the cases selected by -only: tokens of the same kind
// (system, variant, store, workload) are alternatives, kinds must all match.
func filter(cases []caseSpec, only string) ([]caseSpec, error) {
	if strings.TrimSpace(only) == "" {
		return cases, nil
	}
	kinds := map[string][]string{}
	systems := []string{sysStent, sysRiver, sysDBOS}
	variants := []string{varFast, varDefaults, varDirect, varQueue, varLocal, varPoll, varRedis, varPGNotify,
		varSleep, varSignal, varTimers, varSpread, varLimits, varBinding}
	stores := []string{storePG, storeSQLite}
	workloads := []string{w1, w2, w3, w4, w5, w6, w7, w8}
	for _, tok := range strings.Split(only, ",") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "":
		case slices.Contains(systems, strings.ToLower(tok)):
			kinds["system"] = append(kinds["system"], strings.ToLower(tok))
		case slices.Contains(variants, strings.ToLower(tok)):
			kinds["variant"] = append(kinds["variant"], strings.ToLower(tok))
		case slices.Contains(stores, strings.ToLower(tok)) || strings.EqualFold(tok, "pg"):
			st := strings.ToLower(tok)
			if st == "pg" {
				st = storePG
			}
			kinds["store"] = append(kinds["store"], st)
		case slices.Contains(workloads, strings.ToUpper(tok)):
			kinds["workload"] = append(kinds["workload"], strings.ToUpper(tok))
		case loadToken(tok) != "":
			kinds["load"] = append(kinds["load"], loadToken(tok))
		default:
			return nil, fmt.Errorf("-only %q: unknown filter %q; allowed: %s, %s, %s, %s", only, tok,
				strings.Join(systems, ","), strings.Join(variants, ","), strings.Join(stores, ","), strings.Join(workloads, ",")+", W8 loads (200/s, 1000/s, 80%)")
		}
	}
	var out []caseSpec
	for _, c := range cases {
		ok := true
		for kind, vals := range kinds {
			var v string
			switch kind {
			case "system":
				v = c.System
			case "variant":
				v = c.Variant
			case "store":
				v = c.Store
			case "workload":
				v = c.Workload
			case "load":
				v = caseLoad(c)
			}
			if !slices.Contains(vals, v) && (kind != "variant" || v != "") && (kind != "load" || v != "") {
				ok = false // a case without variants (or loads) passes a variant (load) filter
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// loadToken reads a W8 load filter: "200/s" or "1000/s" (a fixed rate),
// "80%" (a share of W1's max); "" when tok is none of these.
func loadToken(tok string) string {
	if r, ok := strings.CutSuffix(tok, "/s"); ok {
		if n, err := strconv.Atoi(r); err == nil && n > 0 {
			return strconv.Itoa(n) + "/s"
		}
	}
	if p, ok := strings.CutSuffix(tok, "%"); ok {
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			return strconv.Itoa(n) + "%"
		}
	}
	return ""
}

// caseLoad is a W8 case's load in loadToken's form; "" for other cases.
func caseLoad(c caseSpec) string {
	switch {
	case c.Rate > 0:
		return strconv.Itoa(c.Rate) + "/s"
	case c.RatePct > 0:
		return strconv.Itoa(c.RatePct) + "%"
	}
	return ""
}
