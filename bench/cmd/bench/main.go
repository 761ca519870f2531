// Command bench measures Stent side by side with River and DBOS Transact:
// throughput and latency on PostgreSQL and SQLite (`make bench`,
// `make bench-quick`, `make bench-latency`; see features/020-bench.md).
//
// The parent process plans the cases (system x store x workload), runs each
// run of each case in a fresh child process (the same binary re-executed
// with -role run), so peak RSS is measured per row and no state leaks
// between systems, and aggregates the runs into bench/results/latest.md and
// latest.json (median, min and max of the runs).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	role     string // "" (parent), "run" (one case), "worker" (a Stent worker process)
	quick    bool
	only     string
	runs     int
	out      string
	guard    bool
	latency  bool
	adminDSN string
	spec     string // -role run/worker: the JSON runSpec
	result   string // -role run: where the child writes its JSON result
	list     bool
	verbose  bool
	preload  int
	extra    bool
	w8window time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.role, "role", "", "internal: run|worker (the parent re-executes itself with these)")
	flag.BoolVar(&o.quick, "quick", false, "reduced sizes and cases for a CI smoke run (< 2 min)")
	flag.StringVar(&o.only, "only", "", "comma-separated filters: systems (stent,river,dbos), variants (fast,defaults,direct,queue,local,poll,redis,pgnotify,sleep,signal,timers,spread,limits,binding), stores (postgres,sqlite), workloads (W1..W8); same-kind filters OR, kinds AND")
	flag.IntVar(&o.runs, "runs", 0, "runs per case (default 3; 1 with -latency)")
	flag.StringVar(&o.out, "out", "results", "directory for latest.md and latest.json (empty: do not write)")
	flag.BoolVar(&o.guard, "guard", false, "exit 1 if Stent's W1 < 0.5x River (fast) on the same store or Stent's W2 < 0.5x DBOS, in this run")
	flag.BoolVar(&o.latency, "latency", false, "Stent latency table only (issue 4): polling, in-process, Redis and PostgreSQL notifiers; prints the table")
	flag.StringVar(&o.adminDSN, "pg", envOr("STENT_BENCH_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL DSN of a maintenance database; each run gets a fresh database created from it")
	flag.StringVar(&o.spec, "spec", "", "internal: the JSON run spec of -role run/worker")
	flag.StringVar(&o.result, "result", "", "internal: result file of -role run")
	flag.BoolVar(&o.list, "list", false, "print the planned cases and exit")
	flag.BoolVar(&o.verbose, "v", false, "print each run's outcome as it finishes")
	flag.BoolVar(&o.extra, "extra", false, "also run the extra cases (River and DBOS W4 on SQLite)")
	flag.IntVar(&o.preload, "preload", 0, "W5: finished executions to preload (default 1,000,000)")
	flag.DurationVar(&o.w8window, "w8window", 0, "W8: how long each rate is offered (default 30s; 2s with -quick), e.g. 5s for a smoke run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch o.role {
	case "":
		err = runParent(ctx, o)
	case "run":
		err = runChild(ctx, o)
	case "worker":
		err = runStentWorkerProcess(ctx, o)
	default:
		err = fmt.Errorf("bench: unknown -role %q; allowed: run, worker", o.role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// since returns the seconds elapsed since t, for progress lines.
func since(t time.Time) string { return fmt.Sprintf("%.1fs", time.Since(t).Seconds()) }
