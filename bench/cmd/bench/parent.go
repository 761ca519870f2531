package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runParent plans the cases, runs every run in a child process, and writes
// the report.
func runParent(ctx context.Context, o options) error {
	sz := fullSizes()
	plan := benchPlan()
	switch {
	case o.latency:
		sz, plan = latencySizes(), latencyPlan()
	case o.quick:
		sz = quickSizes()
	}
	var kept []caseSpec
	for _, c := range plan {
		if (!o.quick || c.Quick) && (o.extra || !c.Extra) {
			kept = append(kept, c)
		}
	}
	plan = kept
	if o.preload > 0 {
		sz.W5Preload = o.preload
	}
	if o.w8window > 0 {
		sz.W8Window = o.w8window
	}
	plan, err := filter(plan, o.only)
	if err != nil {
		return err
	}
	runs := o.runs
	if runs <= 0 {
		runs = 3
		if o.latency {
			runs = 1
		}
	}
	if o.list {
		for _, c := range plan {
			fmt.Println(c)
		}
		return nil
	}

	started := time.Now()
	env, err := probeEnvironment(ctx, o.adminDSN)
	if err != nil {
		return err
	}
	env.Quick, env.Latency, env.Runs, env.Sizes = o.quick, o.latency, runs, sz
	env.Fsync = probeFsync(o.out)
	fmt.Fprintf(os.Stderr, "bench: %d cases x %d runs; PostgreSQL %s (synchronous_commit=%s); %d CPUs\n",
		len(plan), runs, env.PGVersion, env.SyncCommit, env.CPUs)

	var rep report
	rep.Env = env
	// The cases of one workload run interleaved (run 1 of every case, then
	// run 2 of every case, ...), so a noisy neighbour hits all systems
	// alike (interleave.go).
	for _, group := range groupByWorkload(plan) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		runGroup(ctx, o, group, sz, runs, &rep)
	}
	rep.Env.Total = time.Since(started)
	rep.Env.LoadEnd = loadAverage()
	rep.computeRatios()

	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" && !o.latency {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.out, "latest.md"), []byte(md), 0o644); err != nil {
			return err
		}
		js, err := rep.json()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.out, "latest.json"), js, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s and %s (total %s)\n",
			filepath.Join(o.out, "latest.md"), filepath.Join(o.out, "latest.json"), since(started))
		if fullRun(o) {
			if err := appendHistory(filepath.Join(o.out, "history.jsonl"), &rep); err != nil {
				return fmt.Errorf("history: %w", err)
			}
		}
	}
	if o.guard {
		return rep.guard(os.Stderr)
	}
	return nil
}

// runCaseRuns runs one case `runs` times, each on a fresh store, and adds
// the outcomes to the report. W5 preloads one database once and runs W1 on
// it `runs` times (each run's executions join the finished ones).
func runCaseRuns(ctx context.Context, o options, c caseSpec, sz sizes, runs int, rep *report) []runOutcome {
	var outs []runOutcome
	if c.Workload == w5 {
		db, err := createDatabase(ctx, o.adminDSN)
		if err != nil {
			out := runOutcome{Err: err}
			rep.add(c, sz, []runOutcome{out})
			return []runOutcome{out}
		}
		defer dropDatabase(context.WithoutCancel(ctx), o.adminDSN, db.Name)
		load := execChild(ctx, runSpec{Case: c, Sizes: sz, PGDSN: db.DSN, Phase: "load"}, o.verbose)
		rep.addPreload(c, sz, load)
		if load.Err != nil {
			rep.add(c, sz, []runOutcome{load})
			return []runOutcome{load}
		}
		// Each run on the grown tables follows a run of the same workload
		// on a fresh database (the baseline), so the ratio compares runs
		// made minutes, not a whole bench, apart.
		empty := c
		empty.Variant = varEmpty
		var base []runOutcome
		for range runs {
			base = append(base, runOnEmptyDatabase(ctx, o, empty, sz))
			outs = append(outs, execCounted(ctx, o, runSpec{Case: c, Sizes: sz, PGDSN: db.DSN}, db.Name))
			if o.verbose {
				fmt.Fprintf(os.Stderr, "  run: %v (baseline: %v)\n", outs[len(outs)-1].Err, base[len(base)-1].Err)
			}
		}
		rep.add(c, sz, outs)
		rep.add(empty, sz, base)
		return outs
	}
	if c.Runs > 0 && c.Runs < runs {
		runs = c.Runs
	}
	defer func() { noteParkRate(c, outs) }()
	for range runs {
		if ctx.Err() != nil {
			break
		}
		out := runOnFreshStore(ctx, o, c, sz)
		if o.verbose {
			fmt.Fprintf(os.Stderr, "  run %s: %+v err=%v\n", c, out.Result.Metrics, out.Err)
		}
		outs = append(outs, out)
	}
	rep.add(c, sz, outs)
	return outs
}

// runOnEmptyDatabase is W5's baseline run: the W5 run phase, with the
// same settings, on a fresh PostgreSQL database with no preload.
func runOnEmptyDatabase(ctx context.Context, o options, c caseSpec, sz sizes) runOutcome {
	db, err := createDatabase(ctx, o.adminDSN)
	if err != nil {
		return runOutcome{Err: err}
	}
	defer dropDatabase(context.WithoutCancel(ctx), o.adminDSN, db.Name)
	return execCounted(ctx, o, runSpec{Case: c, Sizes: sz, PGDSN: db.DSN}, db.Name)
}

func runOnFreshStore(ctx context.Context, o options, c caseSpec, sz sizes) runOutcome {
	spec := runSpec{Case: c, Sizes: sz, RedisURL: envOr("STENT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
		NotifierPrefix: fmt.Sprintf("stent-bench-%d-%d:", os.Getpid(), time.Now().UnixNano()), ParkRate: parkRates[c.Store],
		Rate: w8Rates[c]}
	switch c.Store {
	case storePG:
		db, err := createDatabase(ctx, o.adminDSN)
		if err != nil {
			return runOutcome{Err: err}
		}
		defer dropDatabase(context.WithoutCancel(ctx), o.adminDSN, db.Name)
		spec.PGDSN = db.DSN
		return execCounted(ctx, o, spec, db.Name)
	case storeSQLite:
		dir, err := os.MkdirTemp("", "stent-bench-sqlite-")
		if err != nil {
			return runOutcome{Err: err}
		}
		defer os.RemoveAll(dir)
		spec.SQLitePath = filepath.Join(dir, "bench.db")
	}
	return execCounted(ctx, o, spec, "")
}

// parkRates are the parks per second the Stent W6 sleep cases measured, per
// store, in this invocation (the latest run wins): the timer cases that
// follow size their margin by them, so a slower (busier) machine gets a
// longer one.
var parkRates = map[string]float64{}

// noteParkRate records the park rate of a Stent W6 sleep run.
func noteParkRate(c caseSpec, outs []runOutcome) {
	if c.System != sysStent || c.Workload != w6 || c.Variant != varSleep {
		return
	}
	for _, o := range outs {
		for _, m := range o.Result.Metrics {
			if o.Err == nil && m.Name == "park_time" && m.Value > 0 {
				parkRates[c.Store] = float64(o.Result.N) / m.Value
			}
		}
	}
}
