package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Names of the Stent functions the bench registers.
const (
	stentNoop   = "bench.noop"
	stentStamp  = "bench.stamp"
	stentWF10   = "bench.wf10"
	stentFanout = "bench.fanout"
	stentChild  = "bench.child"
)

// stentFns are the bench's durable functions.
type stentFns struct {
	noop   *app.Function[int, int]
	stamp  *app.Function[int, int64]
	wf10   *app.Function[int, int]
	fanout *app.Function[int, int]
	park   parkFns // W6
}

func registerStent(reg *app.Registry) stentFns {
	var f stentFns
	f.noop = app.Register(reg, stentNoop, func(_ context.Context, i int) (int, error) { return i, nil })
	// stamp returns the wall-clock time its body started (Unix ns), so the
	// client measures dispatch -> start across processes on one machine.
	f.stamp = app.Register(reg, stentStamp, func(context.Context, int) (int64, error) { return time.Now().UnixNano(), nil })
	child := app.Register(reg, stentChild, func(_ context.Context, i int) (int, error) { return i, nil })
	f.wf10 = app.Register(reg, stentWF10, func(ctx context.Context, i int) (int, error) {
		sum := 0
		for step := range 10 {
			v, err := child.Call(ctx, step)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
	f.fanout = app.Register(reg, stentFanout, func(ctx context.Context, n int) (int, error) {
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		out, err := child.Map(ctx, in)
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, v := range out {
			sum += v
		}
		return sum, nil
	})
	f.park = registerPark(reg)
	return f
}

// stentStore opens the run's store: pgxstore on the fresh database, or
// sqlitestore with its shipped defaults (WAL, synchronous=NORMAL).
type closer func() error

func openStentStore(ctx context.Context, spec runSpec) (ports.Store, string, closer, error) {
	switch spec.Case.Store {
	case storePG:
		st, err := pgxstore.Open(ctx, spec.PGDSN, pgxstore.Config{})
		if err != nil {
			return nil, "", nil, err
		}
		return st, fmt.Sprintf("pgxstore, pool_max_conns=%d, synchronous_commit=on", pgPoolMaxConns), st.Close, nil
	case storeSQLite:
		st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: spec.SQLitePath})
		if err != nil {
			return nil, "", nil, err
		}
		return st, "sqlitestore defaults: WAL, synchronous=NORMAL, one writer connection", st.Close, nil
	}
	return nil, "", nil, fmt.Errorf("store %q: allowed: %s, %s", spec.Case.Store, storePG, storeSQLite)
}

// doneCounter is a Metrics hook that counts committed completions of one
// function and notes when the count reaches want. TaskCompleted is called
// after the completion is committed, so the count is of durable results.
type doneCounter struct {
	app.NopMetrics
	fn   string
	want int64
	n    atomic.Int64
	at   atomic.Int64 // Unix ns when n reached want
	done chan struct{}
}

func newDoneCounter(fn string, want int) *doneCounter {
	return &doneCounter{fn: fn, want: int64(want), done: make(chan struct{})}
}

func (c *doneCounter) TaskCompleted(t app.TaskInfo, _ time.Duration) {
	if t.Function != c.fn {
		return
	}
	if c.n.Add(1) == c.want {
		c.at.Store(time.Now().UnixNano())
		close(c.done)
	}
}

func (c *doneCounter) wait(ctx context.Context) (time.Time, error) {
	select {
	case <-c.done:
		return time.Unix(0, c.at.Load()), nil
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("%d of %d %s completions: %w", c.n.Load(), c.want, c.fn, ctx.Err())
	}
}

// runParallel calls f(i) for i in [0, n) from par goroutines.
func runParallel(ctx context.Context, n, par int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// stentEngine is an engine on the run's store, plus its worker once started.
type stentEngine struct {
	eng      *app.Engine
	fns      stentFns
	st       ports.Store
	settings string
	close    closer
	worker   *app.Worker
	workDone chan error
	stopWork context.CancelFunc
}

func newStentEngine(ctx context.Context, spec runSpec, metrics app.Metrics, notifier ports.Notifier) (*stentEngine, error) {
	st, settings, closeStore, err := openStentStore(ctx, spec)
	if err != nil {
		return nil, err
	}
	reg := app.NewRegistry()
	fns := registerStent(reg)
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Metrics: metrics, Notifier: notifier}, app.Config{})
	if err != nil {
		_ = closeStore()
		return nil, err
	}
	return &stentEngine{eng: eng, fns: fns, st: st, settings: settings, close: closeStore}, nil
}

// startWorker starts one worker with MaxConcurrency slots and default
// poll settings, and waits until it is ready.
func (s *stentEngine) startWorker(ctx context.Context, slots int) error {
	w, err := s.eng.NewWorker(app.WorkerOptions{MaxConcurrency: slots})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.worker, s.workDone, s.stopWork = w, make(chan error, 1), cancel
	go func() { s.workDone <- w.Run(wctx) }()
	select {
	case <-w.Ready():
		return nil
	case err := <-s.workDone:
		return fmt.Errorf("worker stopped before it was ready: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stentEngine) shutdown() {
	if s.worker != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.worker.Drain(dctx)
		cancel()
		s.stopWork()
		<-s.workDone
	}
	_ = s.eng.Close()
	_ = s.close()
}

func (s *stentEngine) countCompleted(ctx context.Context) (int64, error) {
	counts, err := s.st.CountExecutionsByState(ctx)
	if err != nil {
		return 0, err
	}
	return counts[domain.ExecutionCompleted], nil
}

// runStent runs one Stent case.
func runStent(ctx context.Context, spec runSpec) (runResult, error) {
	sz, c := spec.Sizes, spec.Case
	switch c.Workload {
	case w1, w5:
		return stentBurnDown(ctx, spec, sz.W1N, sz.Concurrency)
	case w2:
		return stentWorkflows(ctx, spec, sz.W2N, sz.Concurrency)
	case w3:
		return stentFanOut(ctx, spec, sz.W3N, sz.Concurrency)
	case w4:
		return stentLatency(ctx, spec)
	case w6:
		return stentParked(ctx, spec)
	case w7:
		return stentFlow(ctx, spec)
	}
	return runResult{}, fmt.Errorf("stent %s: %w", c.Workload, errNotApplicable)
}

// stentBurnDown is W1 (and W5): dispatch n no-op executions, then start
// the worker and time until the last completion is committed.
func stentBurnDown(ctx context.Context, spec runSpec, n, slots int) (runResult, error) {
	counter := newDoneCounter(stentNoop, n)
	s, err := newStentEngine(ctx, spec, counter, nil)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	before, err := s.countCompleted(ctx)
	if err != nil {
		return runResult{}, err
	}
	t0 := time.Now()
	// DispatchMany: one transaction per batch of 5,000 (River inserts with
	// InsertManyFast in batches of the same size).
	if err := dispatchBatches(ctx, n, 5000, func(ins []int) error {
		_, err := s.fns.noop.DispatchMany(ctx, s.eng, ins)
		return err
	}); err != nil {
		return runResult{}, fmt.Errorf("dispatch: %w", err)
	}
	insert := time.Since(t0)
	start := time.Now()
	stopProfile := runProfile(spec)
	if err := s.startWorker(ctx, slots); err != nil {
		stopProfile()
		return runResult{}, err
	}
	end, err := counter.wait(ctx)
	stopProfile()
	if err != nil {
		return runResult{}, err
	}
	if err := verifyCount(ctx, int64(n)+before, s.countCompleted); err != nil {
		return runResult{}, err
	}
	return runResult{Metrics: throughputMetrics(n, "units", end.Sub(start), insert), N: n, Concurrency: slots,
		Settings: s.settings + fmt.Sprintf("; 1 worker, MaxConcurrency=%d, default poll; dispatch: DispatchMany in batches of 5,000", slots)}, nil
}

// stentWorkflows is W2: n workflows of 10 sequential child Calls,
// dispatched to a running worker; time until the last completes.
func stentWorkflows(ctx context.Context, spec runSpec, n, slots int) (runResult, error) {
	counter := newDoneCounter(stentWF10, n)
	s, err := newStentEngine(ctx, spec, counter, nil)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	if err := s.startWorker(ctx, slots); err != nil {
		return runResult{}, err
	}
	start := time.Now()
	stopProfile := runProfile(spec)
	if err := dispatchBatches(ctx, n, 1000, func(ins []int) error {
		_, err := s.fns.wf10.DispatchMany(ctx, s.eng, ins)
		return err
	}); err != nil {
		stopProfile()
		return runResult{}, fmt.Errorf("dispatch: %w", err)
	}
	end, err := counter.wait(ctx)
	stopProfile()
	if err != nil {
		return runResult{}, err
	}
	if err := verifyCount(ctx, int64(n), s.countCompleted); err != nil {
		return runResult{}, err
	}
	return runResult{Metrics: throughputMetrics(n, "workflows", end.Sub(start), 0), N: n, Concurrency: slots,
		Settings: s.settings + fmt.Sprintf("; 1 worker, MaxConcurrency=%d; dispatch: DispatchMany in batches of 1,000", slots)}, nil
}

// stentFanOut is W3: one workflow maps over n children; time from
// dispatch until the waiting client has the gathered result.
func stentFanOut(ctx context.Context, spec runSpec, n, slots int) (runResult, error) {
	s, err := newStentEngine(ctx, spec, nil, nil)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	if err := s.startWorker(ctx, slots); err != nil {
		return runResult{}, err
	}
	start := time.Now()
	id, err := s.fns.fanout.Dispatch(ctx, s.eng, n)
	if err != nil {
		return runResult{}, err
	}
	sum, err := s.fns.fanout.Await(ctx, s.eng, id)
	if err != nil {
		return runResult{}, err
	}
	elapsed := time.Since(start)
	if want := n * (n - 1) / 2; sum != want {
		return runResult{}, fmt.Errorf("fan-out gathered %d; want %d", sum, want)
	}
	return runResult{Metrics: fanOutMetrics(n, elapsed), N: n, Concurrency: slots,
		Settings: s.settings + fmt.Sprintf("; 1 worker, MaxConcurrency=%d; Map over %d children", slots, n)}, nil
}

func fanOutMetrics(n int, elapsed time.Duration) []metric {
	return []metric{
		{Name: "elapsed", Unit: "ms", Value: ms(elapsed)},
		{Name: "children_rate", Unit: "children/s", Value: float64(n) / elapsed.Seconds(), HigherIsBetter: true},
	}
}

// verifyCount checks the store holds want finished units: a benchmark
// that silently dropped work would be worthless.
func verifyCount(ctx context.Context, want int64, count func(context.Context) (int64, error)) error {
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitCount(vctx, want, 20*time.Millisecond, count); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	got, err := count(vctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if got != want {
		return fmt.Errorf("verify: %d finished units in the store; want %d", got, want)
	}
	return nil
}

// dispatchBatches calls dispatch with the inputs 0..n-1 in batches of size.
func dispatchBatches(ctx context.Context, n, size int, dispatch func([]int) error) error {
	for lo := 0; lo < n; lo += size {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+size, n)
		ins := make([]int, hi-lo)
		for i := range ins {
			ins[i] = lo + i
		}
		if err := dispatch(ins); err != nil {
			return err
		}
	}
	return nil
}

// runProfile, when STENT_BENCH_PROFILE names a directory, takes a CPU
// profile of a W1 or W2 run's timed part, written to
// <dir>/<workload>-<store>.cpu.pprof (the last run's), and returns the
// function that stops it. Diagnostics only.
func runProfile(spec runSpec) func() {
	dir := os.Getenv("STENT_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	if err := toggleCPUProfile(filepath.Join(dir, spec.Case.Workload+"-"+spec.Case.Store+".cpu.pprof")); err != nil {
		fmt.Fprintf(os.Stderr, "bench: profile: %v\n", err)
		return func() {}
	}
	return func() { _ = toggleCPUProfile("") }
}
