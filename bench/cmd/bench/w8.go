package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"database/sql"
)

// W8: latency under a fixed offered load (issue 15, part 3). Units are
// dispatched open-loop: unit i is due at t0 + i/rate whatever happened to
// the units before it, each in its own goroutine, for a fixed window. The
// latency of a unit runs from its due instant (not from when its goroutine
// got to run: a harness that falls behind does not hide the queueing it
// causes) until the client has seen its result: Stent Dispatch -> Await,
// DBOS RunWorkflow -> GetResult (direct), River Insert -> the completion
// event on its subscription. The rates are fixed (200/s, 1,000/s) or a
// share (80%) of the system's own W1 throughput measured in the same
// invocation.

// w8Sustained is the share of the offered units that must complete for a
// rate to count as sustained.
const w8Sustained = 0.95

// w8MaxInFlightSeconds bounds the harness: once this many seconds of
// offered load are in flight (dispatched, result not yet seen), further
// units are not dispatched and count as not completed. A system that far
// behind does not sustain the rate; without the bound the harness's own
// goroutines and waiters would grow without limit.
const w8MaxInFlightSeconds = 5

// w8Plan lists the W8 cases: each system at 200/s, 1,000/s and 80% of its
// W1 throughput, on both stores; the quick run keeps one Stent case.
func w8Plan() []caseSpec {
	var p []caseSpec
	for _, st := range []string{storePG, storeSQLite} {
		for _, load := range []struct{ rate, pct int }{{200, 0}, {1000, 0}, {0, 80}} {
			for _, sys := range []struct{ system, variant string }{{sysStent, ""}, {sysRiver, varFast}, {sysDBOS, varDirect}} {
				p = append(p, caseSpec{System: sys.system, Variant: sys.variant, Store: st, Workload: w8,
					Rate: load.rate, RatePct: load.pct, Runs: 1,
					Quick: sys.system == sysStent && st == storeSQLite && load.rate == 200})
			}
		}
	}
	return p
}

// w8LoadLabel names a W8 case's offered load ("200/s", "80% of W1 max").
func w8LoadLabel(c caseSpec) string {
	if c.RatePct > 0 {
		return fmt.Sprintf("%d%% of W1 max", c.RatePct)
	}
	return fmt.Sprintf("%d/s", c.Rate)
}

// w8Outcome is what an open-loop run observed.
type w8Outcome struct {
	Offered   int // units due in the window
	Completed int // result seen before the drain deadline
	Failed    int // dispatch or wait returned an error (not the deadline)
	Skipped   int // not dispatched: the in-flight bound was reached
	// Latencies holds one value per offered unit (ms): due -> result for
	// completed units; for the others the time from their due instant to
	// the drain deadline, a lower bound (censored).
	Latencies []float64
	// Last is when the last completed unit's result was seen.
	Last time.Time
	T0   time.Time
}

// w8Fire dispatches unit i and waits for its result; ctx ends at the
// drain deadline.
type w8Fire func(ctx context.Context, i int) error

// openLoop offers rate units/s for window, then waits up to drain for the
// results still outstanding.
func openLoop(ctx context.Context, rate int, window, drain time.Duration, fire w8Fire) w8Outcome {
	n := int(math.Round(float64(rate) * window.Seconds()))
	maxInFlight := int64(max(1000, rate*w8MaxInFlightSeconds))
	interval := float64(time.Second) / float64(rate)
	due := func(i int) time.Duration { return time.Duration(float64(i) * interval) }
	lat := make([]float64, n)
	state := make([]atomic.Int32, n) // 0 pending, 1 completed, 2 failed, 3 skipped
	var inflight atomic.Int64
	var last atomic.Int64
	// The drain deadline: units still waiting then are cut off.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t0 := time.Now().Add(20 * time.Millisecond)
	var wg sync.WaitGroup
	next := 0
	for next < n && ctx.Err() == nil {
		now := time.Now()
		// Launch every unit due by now (at high rates several per tick).
		for next < n && due(next) <= now.Sub(t0) {
			i := next
			next++
			if inflight.Load() >= maxInFlight {
				state[i].Store(3)
				continue
			}
			inflight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer inflight.Add(-1)
				err := fire(runCtx, i)
				end := time.Now()
				switch {
				case err == nil:
					lat[i] = ms(end.Sub(t0.Add(due(i))))
					state[i].Store(1)
					for {
						l := last.Load()
						if end.UnixNano() <= l || last.CompareAndSwap(l, end.UnixNano()) {
							break
						}
					}
				case runCtx.Err() != nil:
					// cut off at the drain deadline: censored below
				default:
					state[i].Store(2)
				}
			}()
		}
		if next < n {
			wait := t0.Add(due(next)).Sub(time.Now())
			if wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}
	}
	offered := next
	// Drain: wait for the outstanding results, up to the deadline.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	deadline := t0.Add(due(offered)).Add(drain)
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		cancel()
		<-done
	case <-ctx.Done():
		cancel()
		<-done
	}
	cut := time.Now()
	out := w8Outcome{Offered: offered, T0: t0, Latencies: make([]float64, 0, offered)}
	if l := last.Load(); l > 0 {
		out.Last = time.Unix(0, l)
	}
	for i := range offered {
		switch state[i].Load() {
		case 1:
			out.Completed++
			out.Latencies = append(out.Latencies, lat[i])
			continue
		case 2:
			out.Failed++
		case 3:
			out.Skipped++
		}
		out.Latencies = append(out.Latencies, ms(cut.Sub(t0.Add(due(i)))))
	}
	w8Trace(t0, offered, due, out.Latencies)
	return out
}

// w8Trace writes each unit's due time (since the epoch, ms) and latency
// (ms) to the file STENT_BENCH_W8_TRACE names, a line each (diagnostics:
// when in a window did the slow units fall due).
func w8Trace(t0 time.Time, n int, due func(int) time.Duration, lats []float64) {
	name := os.Getenv("STENT_BENCH_W8_TRACE")
	if name == "" || len(lats) != n {
		return
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "%d %.3f\n", t0.Add(due(i)).UnixMilli(), lats[i])
	}
	_ = w.Flush()
}

// w8Metrics turns an outcome into the W8 metrics of one run.
func w8Metrics(o w8Outcome, rate int) []metric {
	m := []metric{{Name: "offered_rate", Unit: "units/s", Value: float64(rate)}}
	if o.Offered == 0 {
		return m
	}
	pct := 100 * float64(o.Completed) / float64(o.Offered)
	lats := append([]float64(nil), o.Latencies...)
	m = append(m,
		metric{Name: "p50", Unit: "ms", Value: percentile(lats, 50)},
		metric{Name: "p99", Unit: "ms", Value: percentile(lats, 99)},
		metric{Name: "p99.9", Unit: "ms", Value: percentile(lats, 99.9)},
		metric{Name: "completed", Unit: "%", Value: pct, HigherIsBetter: true},
		metric{Name: "sustained", Unit: "bool", Value: boolFloat(pct >= 100*w8Sustained)},
		metric{Name: "failed", Unit: "units", Value: float64(o.Failed)},
		metric{Name: "skipped", Unit: "units", Value: float64(o.Skipped)},
	)
	if !o.Last.IsZero() && o.Last.After(o.T0) {
		m = append(m, metric{Name: "completion_rate", Unit: "units/s", Value: float64(o.Completed) / o.Last.Sub(o.T0).Seconds(), HigherIsBetter: true})
	}
	return m
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// w8Drain is how long the results still outstanding after the window are
// waited for.
func w8Drain(sz sizes) time.Duration {
	return max(min(sz.W8Window/3, 10*time.Second), 2*time.Second)
}

// Warm-up before each W8 window: every system first gets w8WarmRate
// units/s (or its own rate, if lower) for w8Warm, then, if its rate is
// higher, its own rate for w8Warm, unmeasured, and all of them are waited
// for. A fresh database's first statements pay for new connections,
// catalogue caches and plans (Stent's first 300 ms of claims took 15-90
// ms each), and so does a step up in rate, which opens more connections
// (Stent's first 300 ms at 1,000/s after 200/s: p99 about 250 ms, against
// 15-25 ms later); that is start-up, not the latency under load the window
// measures. Each stage is waited for, so no backlog carries into the
// window.
const (
	w8WarmRate = 200
	w8Warm     = time.Second
)

// w8WarmFor is the warm-up of sz (a quarter of it with -quick).
func w8WarmFor(sz sizes) time.Duration {
	if sz.W8Window < 5*time.Second {
		return w8Warm / 4
	}
	return w8Warm
}

// measureW8 runs the warm-up, then the measured open loop of spec.
func measureW8(ctx context.Context, spec runSpec, fire w8Fire) w8Outcome {
	sz := spec.Sizes
	_ = openLoop(ctx, min(spec.Rate, w8WarmRate), w8WarmFor(sz), w8Drain(sz), fire)
	if spec.Rate > w8WarmRate {
		_ = openLoop(ctx, spec.Rate, w8WarmFor(sz), w8Drain(sz), fire)
	}
	return openLoop(ctx, spec.Rate, sz.W8Window, w8Drain(sz), fire)
}

// runW8 is one W8 run of any system; spec.Rate is the offered rate the
// parent resolved.
func runW8(ctx context.Context, spec runSpec) (runResult, error) {
	if spec.Rate <= 0 {
		return runResult{}, fmt.Errorf("W8 %s: no offered rate", spec.Case)
	}
	switch spec.Case.System {
	case sysStent:
		return stentW8(ctx, spec)
	case sysRiver:
		return riverW8(ctx, spec)
	case sysDBOS:
		return dbosW8(ctx, spec)
	}
	return runResult{}, fmt.Errorf("%s: %w", spec.Case, errNotApplicable)
}

func w8Settings(spec runSpec, what string) string {
	return fmt.Sprintf("%s; open loop at %d/s (%s) for %s, drain %s; latency from each unit's due instant to its result seen",
		what, spec.Rate, w8LoadLabel(spec.Case), spec.Sizes.W8Window, w8Drain(spec.Sizes))
}

// stentW8: client and worker in one process, the in-process notifier, one
// worker with MaxConcurrency slots (W1's settings); Dispatch -> Await.
func stentW8(ctx context.Context, spec runSpec) (runResult, error) {
	sz := spec.Sizes
	s, err := newStentEngine(ctx, spec, nil, nil)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	if err := s.startWorker(ctx, sz.Concurrency); err != nil {
		return runResult{}, err
	}
	stopProfile := w8Profile(spec)
	defer stopProfile()
	o := measureW8(ctx, spec, func(ctx context.Context, i int) error {
		id, err := s.fns.noop.Dispatch(ctx, s.eng, i)
		if err != nil {
			return err
		}
		_, err = s.fns.noop.Await(ctx, s.eng, id)
		return err
	})
	return runResult{Metrics: w8Metrics(o, spec.Rate), N: o.Offered, Concurrency: sz.Concurrency,
		Settings: w8Settings(spec, s.settings+fmt.Sprintf("; in-process notifier, one process; 1 worker, MaxConcurrency=%d; Dispatch -> Await", sz.Concurrency))}, nil
}

// dbosW8: RunWorkflow (direct, in-process) of the one-step workflow ->
// GetResult.
func dbosW8(ctx context.Context, spec runSpec) (runResult, error) {
	a, err := newDBOSApp(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	defer a.shutdown()
	if err := dbos.Launch(a.ctx); err != nil {
		return runResult{}, err
	}
	o := measureW8(ctx, spec, func(ctx context.Context, i int) error {
		h, err := dbos.RunWorkflow(a.ctx, a.noop, i)
		if err != nil {
			return err
		}
		dl, ok := ctx.Deadline()
		timeout := time.Minute
		if ok {
			timeout = time.Until(dl)
		}
		// GetResult does not take our context: the drain deadline cuts it
		// through its timeout, or through ctx when that ends first.
		res := make(chan error, 1)
		go func() { _, err := h.GetResult(dbos.WithHandleTimeout(timeout)); res <- err }()
		select {
		case err := <-res:
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return runResult{Metrics: w8Metrics(o, spec.Rate), N: o.Offered, Concurrency: spec.Sizes.Concurrency,
		Settings: w8Settings(spec, a.settings+"; one-step workflow, RunWorkflow -> GetResult")}, nil
}

// riverW8: Insert per job -> the completion event on a subscription
// (River's fast settings).
func riverW8(ctx context.Context, spec runSpec) (runResult, error) {
	switch spec.Case.Store {
	case storePG:
		pool, err := pgxpool.New(ctx, spec.PGDSN)
		if err != nil {
			return runResult{}, err
		}
		defer pool.Close()
		return riverW8With(ctx, spec, riverpgxv5.New(pool),
			fmt.Sprintf("riverpgxv5, pgxpool pool_max_conns=%d, synchronous_commit=on", pgPoolMaxConns))
	case storeSQLite:
		db, err := sql.Open("sqlite", riverSQLiteDSN(spec.SQLitePath))
		if err != nil {
			return runResult{}, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		return riverW8With(ctx, spec, riversqlite.New(db), "riversqlite (modernc.org/sqlite), WAL, synchronous=NORMAL, SetMaxOpenConns(1)")
	}
	return runResult{}, fmt.Errorf("river store %q: %w", spec.Case.Store, errNotApplicable)
}

func riverW8With[TTx any](ctx context.Context, spec runSpec, driver riverdriver.Driver[TTx], storeDesc string) (runResult, error) {
	if err := migrateRiver(ctx, driver); err != nil {
		return runResult{}, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, riverNoopWorker{})
	cfg, cfgDesc := riverConfig(varFast, spec.Sizes.Concurrency, workers)
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return runResult{}, err
	}
	events, stop, err := startRiverSubscribed(ctx, client, 100000)
	if err != nil {
		return runResult{}, err
	}
	defer stop()
	w := newRiverWaiters()
	go w.route(events)
	o := measureW8(ctx, spec, func(ctx context.Context, i int) error {
		res, err := client.Insert(ctx, riverNoopArgs{I: i}, nil)
		if err != nil {
			return err
		}
		ev, err := w.wait(ctx, res.Job.ID)
		if err != nil {
			return err
		}
		if ev.Job.State != rivertype.JobStateCompleted {
			return fmt.Errorf("job %d ended %s", ev.Job.ID, ev.Job.State)
		}
		return nil
	})
	return runResult{Metrics: w8Metrics(o, spec.Rate), N: o.Offered, Concurrency: spec.Sizes.Concurrency,
		Settings: w8Settings(spec, storeDesc+"; "+cfgDesc+"; Insert per job -> completion event (Subscribe)")}, nil
}

// riverWaiters hands River's completion events to the goroutine waiting
// for each job. An event may arrive before its waiter registers (the job
// can finish before Insert returns), so it is kept until claimed.
type riverWaiters struct {
	mu      sync.Mutex
	waiting map[int64]chan *river.Event
	early   map[int64]*river.Event
}

func newRiverWaiters() *riverWaiters {
	return &riverWaiters{waiting: map[int64]chan *river.Event{}, early: map[int64]*river.Event{}}
}

func (w *riverWaiters) route(events <-chan *river.Event) {
	for ev := range events {
		w.mu.Lock()
		if ch, ok := w.waiting[ev.Job.ID]; ok {
			delete(w.waiting, ev.Job.ID)
			ch <- ev
		} else {
			w.early[ev.Job.ID] = ev
		}
		w.mu.Unlock()
	}
}

func (w *riverWaiters) wait(ctx context.Context, id int64) (*river.Event, error) {
	w.mu.Lock()
	if ev, ok := w.early[id]; ok {
		delete(w.early, id)
		w.mu.Unlock()
		return ev, nil
	}
	ch := make(chan *river.Event, 1)
	w.waiting[id] = ch
	w.mu.Unlock()
	select {
	case ev := <-ch:
		return ev, nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.waiting, id)
		w.mu.Unlock()
		return nil, ctx.Err()
	}
}

// w8Profile writes a CPU profile of the run, and a goroutine dump at the
// end of the window, to $STENT_BENCH_W8_PROFILE (a directory) when set:
// for looking into a collapse, not part of the figures.
func w8Profile(spec runSpec) func() {
	dir := os.Getenv("STENT_BENCH_W8_PROFILE")
	if dir == "" {
		return func() {}
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-%d", spec.Case.System, spec.Case.Store, spec.Rate))
	f, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return func() {}
	}
	_ = pprof.StartCPUProfile(f)
	t := time.AfterFunc(spec.Sizes.W8Window, func() {
		if g, err := os.Create(base + ".goroutines.txt"); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(g, 1)
			_ = g.Close()
		}
		if h, err := os.Create(base + ".heap.pprof"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(h, 0)
			_ = h.Close()
		}
	})
	return func() {
		t.Stop()
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// errNoW1Max is returned when a W8 case's rate is a share of a W1 figure
// that could not be measured.
var errNoW1Max = errors.New("no W1 throughput measured for this system and store")
