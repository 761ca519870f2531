package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// W6, parked workflows. The bench's run child is the client: it dispatches
// the workflows and sends the signals. The Stent worker runs in its own
// process (-role worker, as W4's networked variants), so the memory and
// goroutines measured are the worker's alone; the client asks the worker
// process for them over its stdin/stdout once the store shows every root
// task waiting. The workflow bodies run in the worker process and note
// there, per workflow, the wall-clock time of the first instruction after
// the wait returned.

// Names of the W6 functions and the signal.
const (
	stentParkSleep  = "bench.park.sleep"
	stentParkSignal = "bench.park.signal"
	stentParkUntil  = "bench.park.until"
	parkSignalName  = "wake"
)

// parkUntilIn is the input of the timer workflow: its index and the
// wall-clock instant it sleeps until (Unix ns).
type parkUntilIn struct {
	I  int   `json:"i"`
	At int64 `json:"at"`
}

// parkFns are the W6 workflows.
type parkFns struct {
	// sleep sleeps for the input (milliseconds), then returns.
	sleep *app.Function[int64, int]
	// signal waits for one signal whose payload is its send time (Unix
	// ns), then returns its input.
	signal *app.Function[int, int]
	// until sleeps until its input's instant, then returns.
	until *app.Function[parkUntilIn, int]
}

func registerPark(reg *app.Registry) parkFns {
	var f parkFns
	f.sleep = app.Register(reg, stentParkSleep, func(ctx context.Context, ms int64) (int, error) {
		parkLog.entered.Add(1)
		if err := app.Sleep(ctx, time.Duration(ms)*time.Millisecond); err != nil {
			return 0, err
		}
		return 0, nil
	})
	f.signal = app.Register(reg, stentParkSignal, func(ctx context.Context, i int) (int, error) {
		parkLog.entered.Add(1)
		sent, err := app.WaitForSignal[int64](ctx, parkSignalName)
		if err != nil {
			return 0, err
		}
		parkLog.resumed(i, time.Since(time.Unix(0, sent)))
		return i, nil
	})
	f.until = app.Register(reg, stentParkUntil, func(ctx context.Context, in parkUntilIn) (int, error) {
		parkLog.entered.Add(1)
		at := time.Unix(0, in.At)
		// Always a positive sleep: Sleep(d <= 0) writes nothing, so a run
		// replayed after the due time would not meet its own sleep step.
		d := max(time.Until(at), time.Millisecond)
		if err := app.Sleep(ctx, d); err != nil {
			return 0, err
		}
		parkLog.resumed(in.I, time.Since(at))
		return in.I, nil
	})
	return f
}

// wakeLog is the worker process's record of the W6 workflows: the
// lateness of each one's first resume (first instruction after its wait
// returned, minus the due instant or the signal's send time), and the
// committed completions (a Metrics hook: TaskCompleted fires after the
// commit).
type wakeLog struct {
	app.NopMetrics
	mu       sync.Mutex
	late     map[int]time.Duration
	entered  atomic.Int64 // body runs begun (replays included)
	done     atomic.Int64
	lastDone atomic.Int64 // Unix ns of the latest completion
}

var parkLog = &wakeLog{late: map[int]time.Duration{}}

func (l *wakeLog) resumed(i int, late time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.late[i]; !ok { // a later run of the same body is not a resume
		l.late[i] = late
	}
}

func (l *wakeLog) TaskCompleted(t app.TaskInfo, _ time.Duration) {
	switch t.Function {
	case stentParkSleep, stentParkSignal, stentParkUntil:
		if t.Kind != string(domain.KindOrchestrator) {
			return
		}
		l.done.Add(1)
		l.lastDone.Store(time.Now().UnixNano())
	}
}

// procStats is a process's memory and goroutines at one instant.
type procStats struct {
	RSSKiB     int64  `json:"rss_kib"` // VmRSS
	HWMKiB     int64  `json:"hwm_kib"` // VmHWM: the peak so far
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapSys    uint64 `json:"heap_sys"`
	// The worker's wake log (Stent worker process only).
	Entered   int64  `json:"entered"`
	Resumed   int    `json:"resumed"`
	Completed int64  `json:"completed"`
	LastDone  int64  `json:"last_done"`
	Error     string `json:"error,omitempty"`
}

// selfStats reads this process's VmRSS and VmHWM from /proc/self/status,
// its goroutines and its Go heap.
func selfStats() procStats {
	var s procStats
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			n, _ := strconv.ParseInt(f[0], 10, 64)
			switch k {
			case "VmRSS":
				s.RSSKiB = n
			case "VmHWM":
				s.HWMKiB = n
			}
		}
	}
	s.Goroutines = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapInuse, s.HeapSys = ms.HeapInuse, ms.HeapSys
	return s
}

// lateness is the summary of the wake log, in milliseconds.
type lateness struct {
	N     int     `json:"n"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Error string  `json:"error,omitempty"`
}

func (l *wakeLog) summary() lateness {
	l.mu.Lock()
	xs := make([]float64, 0, len(l.late))
	for _, d := range l.late {
		xs = append(xs, ms(d))
	}
	l.mu.Unlock()
	if len(xs) == 0 {
		return lateness{}
	}
	slices.Sort(xs)
	return lateness{N: len(xs), Min: xs[0], P50: percentile(xs, 50), P90: percentile(xs, 90), P99: percentile(xs, 99), Max: xs[len(xs)-1]}
}

func (l *wakeLog) stats() procStats {
	return l.progress(selfStats())
}

// progress adds the wake log's counts to s.
func (l *wakeLog) progress(s procStats) procStats {
	l.mu.Lock()
	s.Resumed = len(l.late)
	l.mu.Unlock()
	s.Entered, s.Completed, s.LastDone = l.entered.Load(), l.done.Load(), l.lastDone.Load()
	return s
}

// serveParkCommands answers the client's requests, one JSON line each:
// "stats" (procStats), "progress" (procStats' counts only), "lateness"
// (lateness), "dump <prefix>" (writes a goroutine dump and a heap profile
// next to prefix), "cpu <path>" / "cpu" (starts / stops a CPU profile).
func serveParkCommands(in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		var v any
		switch cmd {
		case "stats":
			v = parkLog.stats()
		case "progress": // the counts only: no /proc read, no ReadMemStats (which stops the world)
			v = parkLog.progress(procStats{})
		case "lateness":
			v = parkLog.summary()
		case "cpu":
			v = procStats{}
			if err := toggleCPUProfile(arg); err != nil {
				v = procStats{Error: err.Error()}
			}
		case "dump":
			s := parkLog.stats()
			if err := dumpProfiles(arg); err != nil {
				s.Error = err.Error()
			}
			v = s
		default:
			v = procStats{Error: fmt.Sprintf("unknown command %q", cmd)}
		}
		b, _ := json.Marshal(v)
		_, _ = out.Write(append(b, '\n'))
	}
}

// dumpProfiles writes prefix.goroutines.txt (every goroutine's stack) and
// prefix.heap.pprof.
func dumpProfiles(prefix string) error {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".goroutines.txt", b.Bytes(), 0o644); err != nil {
		return err
	}
	f, err := os.Create(prefix + ".heap.pprof")
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// cpuProfile is the worker process's CPU profile in progress ("cpu
// <path>" starts it, "cpu" stops it).
var cpuProfile *os.File

func toggleCPUProfile(path string) error {
	if cpuProfile != nil {
		pprof.StopCPUProfile()
		err := cpuProfile.Close()
		cpuProfile = nil
		return err
	}
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	cpuProfile = f
	return nil
}

// profile, when STENT_BENCH_W6_DUMP names a directory, starts (name != "")
// or stops (name == "") a CPU profile of the worker process, written to
// <dir>/<store>-<variant>-<n>-<name>.cpu.pprof. Diagnostics only.
func (r *parkRun) profile(ctx context.Context, name string) {
	dir := os.Getenv("STENT_BENCH_W6_DUMP")
	if dir == "" {
		return
	}
	cmd := "cpu"
	if name != "" {
		cmd += " " + filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%s.cpu.pprof", r.spec.Case.Store, r.spec.Case.Variant, r.n, name))
	}
	if st, err := r.ask(ctx, cmd); err != nil {
		fmt.Fprintf(os.Stderr, "bench: W6 profile: %v %s\n", err, st.Error)
	}
}

// parkNotifierVariant picks the notifier both W6 processes use. The timer
// cases keep the engine's default, an in-process LocalNotifier in each
// process (as W1-W3): nothing crosses the processes, the worker finds new
// work by polling and due timers with store.NextWake, and a completion's
// events cost nothing. The signal case needs the client's signals to reach
// the worker: PostgreSQL's LISTEN/NOTIFY on PostgreSQL; Redis on SQLite
// when it answers, else polling only. The client decides and hands it to
// the worker in the spec.
func parkNotifierVariant(ctx context.Context, spec runSpec) string {
	if spec.Case.Variant != varSignal {
		return varLocal
	}
	if spec.Case.Store == storePG {
		return varPGNotify
	}
	opts, err := redis.ParseURL(spec.RedisURL)
	if err != nil {
		return varPoll
	}
	client := redis.NewClient(opts)
	defer client.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if client.Ping(pctx).Err() != nil {
		return varPoll
	}
	return varRedis
}

// parkNotifier is the notifier of spec.Notifier (see parkNotifierVariant).
func parkNotifier(ctx context.Context, spec runSpec) (ports.Notifier, string, closer, error) {
	ns := spec
	ns.Case.Variant = spec.Notifier
	return newStentNotifier(ctx, ns)
}

// countParked counts the root tasks stored as waiting (parked).
func countParked(ctx context.Context, st ports.Store) (int64, error) {
	counts, err := st.CountTasks(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range counts {
		if c.State == domain.TaskWaiting && c.Kind == domain.KindOrchestrator {
			n += c.N
		}
	}
	return n, nil
}

// parkMargin is how far after the start of dispatch the first timer falls
// due: enough for the worker to run and park every workflow first. rate is
// the parks per second a sleep case measured on the same store earlier in
// this invocation (0: none ran); without one, the rates measured on a quiet
// 2-CPU machine: about 1,300/s on PostgreSQL (one commit each), about
// 2,200/s on SQLite, with room. The run fails if they are not all parked in
// time.
func parkMargin(store string, n int, rate float64) time.Duration {
	if rate > 0 {
		// Twice the expected time: the machine's load can change between
		// the cases.
		return 2*time.Second + time.Duration(2*float64(n)/rate*float64(time.Second))
	}
	per := 600 * time.Microsecond
	if store == storePG {
		per = 900 * time.Microsecond
	}
	return 2*time.Second + time.Duration(n)*per
}

// margin is the run's parkMargin.
func (r *parkRun) margin() time.Duration {
	return parkMargin(r.spec.Case.Store, r.n, r.spec.ParkRate)
}

// w6N is the case's workflow count.
func w6N(c caseSpec, sz sizes) int {
	switch c.Variant {
	case varTimers:
		return sz.W6TimersN
	case varSpread:
		return sz.W6SpreadN
	}
	if c.Large {
		return sz.W6LargeN
	}
	return sz.W6N
}

// parkRun is one W6 Stent run: the client engine and the worker process.
type parkRun struct {
	spec     runSpec
	s        *stentEngine
	wp       *workerProcess
	n        int
	notifier string
	metrics  []metric
}

func (r *parkRun) add(name, unit string, v float64, higherIsBetter bool) {
	r.metrics = append(r.metrics, metric{Name: name, Unit: unit, Value: v, HigherIsBetter: higherIsBetter})
}

// stats asks the worker process for its figures.
func (r *parkRun) stats(ctx context.Context) (procStats, error) { return r.ask(ctx, "stats") }

// progress asks the worker process for its counts only.
func (r *parkRun) progress(ctx context.Context) (procStats, error) { return r.ask(ctx, "progress") }

func (r *parkRun) ask(ctx context.Context, cmd string) (procStats, error) {
	var s procStats
	if err := r.wp.request(ctx, cmd, &s); err != nil {
		return s, err
	}
	if s.Error != "" {
		return s, fmt.Errorf("worker process: %s", s.Error)
	}
	return s, nil
}

// parkSettle is how long after the store shows every workflow parked the
// worker's figures are read: a parked run's goroutine ends just after its
// park commits, so a reading at that very instant can still count the last
// few.
const parkSettle = 200 * time.Millisecond

// addParked records the worker's memory and goroutines once all are
// parked (and dumps its goroutines and heap when STENT_BENCH_W6_DUMP names
// a directory).
func (r *parkRun) addParked(ctx context.Context) error {
	select {
	case <-time.After(parkSettle):
	case <-ctx.Done():
		return ctx.Err()
	}
	st, err := r.stats(ctx)
	if err != nil {
		return err
	}
	r.add("rss", "MiB", kib(st.RSSKiB), false)
	r.add("goroutines", "goroutines", float64(st.Goroutines), false)
	r.add("heap_inuse", "MiB", float64(st.HeapInuse)/(1<<20), false)
	r.add("worker_peak_rss", "MiB", kib(st.HWMKiB), false)
	if dir := os.Getenv("STENT_BENCH_W6_DUMP"); dir != "" {
		prefix := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%d", r.spec.Case.Store, r.spec.Case.Variant, r.n, time.Now().Unix()))
		var ds procStats
		if err := r.wp.request(ctx, "dump "+prefix, &ds); err != nil || ds.Error != "" {
			fmt.Fprintf(os.Stderr, "bench: W6 dump: %v %s\n", err, ds.Error)
		}
	}
	return nil
}

func kib(k int64) float64 { return float64(k) / 1024 }

// waitParked waits until n root tasks are waiting in the store, and
// returns that moment; it fails at deadline (when set) with the count
// reached. It asks the worker process first, until n bodies have begun (an
// in-memory counter), and only then counts in the store every 20ms: a
// COUNT over all tasks every 20ms would load the database it measures.
func (r *parkRun) waitParked(ctx context.Context, n int, deadline time.Time) (time.Time, error) {
	const interval = 20 * time.Millisecond
	for {
		st, err := r.progress(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if st.Entered >= int64(n) {
			break
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d workflows began by the due time %s after dispatch began (raise parkMargin)",
				st.Entered, n, r.margin())
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d workflows began: %w", st.Entered, n, ctx.Err())
		case <-time.After(interval):
		}
	}
	for {
		got, err := countParked(ctx, r.s.st)
		if err == nil && got >= int64(n) {
			return time.Now(), nil
		}
		if st, perr := r.progress(ctx); perr == nil && st.Completed > 0 {
			return time.Time{}, fmt.Errorf("%d workflows woke and completed before all %d were parked (%d parked): the wait is shorter than parking them all",
				st.Completed, n, got)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d workflows parked by the due time %s after dispatch began (raise parkMargin)",
				got, n, r.margin())
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d workflows parked (err %v): %w", got, n, err, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// waitCompleted polls the worker until n workflows completed (committed).
func (r *parkRun) waitCompleted(ctx context.Context, n int) (procStats, error) {
	for {
		st, err := r.progress(ctx)
		if err != nil {
			return st, err
		}
		if st.Completed >= int64(n) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("%d of %d workflows resumed, %d completed: %w", st.Resumed, n, st.Completed, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (r *parkRun) lateness(ctx context.Context) (lateness, error) {
	var l lateness
	if err := r.wp.request(ctx, "lateness", &l); err != nil {
		return l, err
	}
	if l.Error != "" {
		return l, fmt.Errorf("worker process: %s", l.Error)
	}
	if l.N != r.n {
		return l, fmt.Errorf("%d of %d workflows noted a resume", l.N, r.n)
	}
	return l, nil
}

// dispatch dispatches the run's n workflows with DispatchMany in batches of
// 5,000 (one transaction each) and records the dispatch rate.
func (r *parkRun) dispatch(ctx context.Context, batch func(lo, hi int) ([]string, error)) ([]string, error) {
	ids := make([]string, 0, r.n)
	t0 := time.Now()
	for lo := 0; lo < r.n; lo += parkDispatchBatch {
		got, err := batch(lo, min(lo+parkDispatchBatch, r.n))
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		ids = append(ids, got...)
	}
	r.add("dispatch_rate", "workflows/s", float64(r.n)/time.Since(t0).Seconds(), true)
	return ids, nil
}

const parkDispatchBatch = 5000

// stentParked is W6 for Stent.
func stentParked(ctx context.Context, spec runSpec) (runResult, error) {
	sz, c := spec.Sizes, spec.Case
	spec.Notifier = parkNotifierVariant(ctx, spec)
	notifier, notifierDesc, closeNotifier, err := parkNotifier(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	defer closeNotifier()
	s, err := newStentEngine(ctx, spec, nil, notifier)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	wp, err := startWorkerProcess(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	defer wp.stop()
	r := &parkRun{spec: spec, s: s, wp: wp, n: w6N(c, sz), notifier: notifierDesc}
	idle, err := r.stats(ctx)
	if err != nil {
		return runResult{}, err
	}
	var how string
	switch c.Variant {
	case varSleep:
		how, err = r.sleep(ctx)
	case varSignal:
		how, err = r.signal(ctx)
	case varTimers:
		how, err = r.timers(ctx, 0)
	case varSpread:
		how, err = r.timers(ctx, sz.W6SpreadOver)
	default:
		err = fmt.Errorf("stent W6 variant %q: %w", c.Variant, errNotApplicable)
	}
	if err != nil {
		return runResult{}, err
	}
	r.add("idle_rss", "MiB", kib(idle.RSSKiB), false)
	r.add("idle_goroutines", "goroutines", float64(idle.Goroutines), false)
	res := runResult{Metrics: r.metrics, N: r.n, Concurrency: sz.W6Slots,
		Settings: fmt.Sprintf("%s; worker process: MaxConcurrency=%d, app.Config{} (ParkAfter %s), %s; client: DispatchMany x %d; %s",
			s.settings, sz.W6Slots, app.DefaultParkAfter, notifierDesc, parkDispatchBatch, how)}
	res.SubprocessRSSKiB = wp.stop()
	return res, nil
}

// sleep: n workflows each sleep W6SleepFor; measured once all are parked.
func (r *parkRun) sleep(ctx context.Context) (string, error) {
	sleepFor := r.spec.Sizes.W6SleepFor
	if r.spec.Case.Large {
		sleepFor = r.spec.Sizes.W6LargeSleepFor
	}
	sleepMs := sleepFor.Milliseconds()
	t0 := time.Now()
	r.profile(ctx, "park")
	defer r.profile(ctx, "")
	if _, err := r.dispatch(ctx, func(lo, hi int) ([]string, error) {
		in := make([]int64, hi-lo)
		for i := range in {
			in[i] = sleepMs
		}
		return r.s.fns.park.sleep.DispatchMany(ctx, r.s.eng, in)
	}); err != nil {
		return "", err
	}
	at, err := r.waitParked(ctx, r.n, time.Time{})
	if err != nil {
		return "", err
	}
	r.add("park_time", "s", at.Sub(t0).Seconds(), false)
	if err := r.addParked(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("app.Sleep(%s)", sleepFor), nil
}

// signal: n workflows each wait for a signal; measured once all are
// parked; then the client signals every one (payload: the send time) and
// waits for the completions.
func (r *parkRun) signal(ctx context.Context) (string, error) {
	t0 := time.Now()
	ids, err := r.dispatch(ctx, func(lo, hi int) ([]string, error) {
		in := make([]int, hi-lo)
		for i := range in {
			in[i] = lo + i
		}
		return r.s.fns.park.signal.DispatchMany(ctx, r.s.eng, in)
	})
	if err != nil {
		return "", err
	}
	at, err := r.waitParked(ctx, r.n, time.Time{})
	if err != nil {
		return "", err
	}
	r.add("park_time", "s", at.Sub(t0).Seconds(), false)
	if err := r.addParked(ctx); err != nil {
		return "", err
	}
	const senders = 16
	s0 := time.Now()
	if err := runParallel(ctx, r.n, senders, func(i int) error {
		return r.s.eng.SendSignal(ctx, ids[i], parkSignalName, time.Now().UnixNano())
	}); err != nil {
		return "", fmt.Errorf("signal: %w", err)
	}
	r.add("signal_rate", "signals/s", float64(r.n)/time.Since(s0).Seconds(), true)
	st, err := r.waitCompleted(ctx, r.n)
	if err != nil {
		return "", err
	}
	r.add("wake_all", "s", time.Unix(0, st.LastDone).Sub(s0).Seconds(), false)
	l, err := r.lateness(ctx)
	if err != nil {
		return "", err
	}
	r.add("signal_p50", "ms", l.P50, false)
	r.add("signal_p99", "ms", l.P99, false)
	r.add("signal_max", "ms", l.Max, false)
	if err := verifyCount(ctx, int64(r.n), r.s.countCompleted); err != nil {
		return "", err
	}
	return fmt.Sprintf("app.WaitForSignal; once all are parked, SendSignal to each from %d goroutines", senders), nil
}

// timers: n workflows sleep until instants set at dispatch. over == 0: all
// at one whole wall-clock second a little after dispatch (parkMargin);
// otherwise spread uniformly over `over` from then. Lateness: first
// instruction after the sleep returned minus the due instant.
func (r *parkRun) timers(ctx context.Context, over time.Duration) (string, error) {
	t0 := time.Now()
	due := t0.Add(r.margin())
	if over == 0 {
		due = due.Truncate(time.Second).Add(time.Second) // a whole second
	}
	step := over / time.Duration(r.n)
	if _, err := r.dispatch(ctx, func(lo, hi int) ([]string, error) {
		in := make([]parkUntilIn, hi-lo)
		for i := range in {
			in[i] = parkUntilIn{I: lo + i, At: due.Add(time.Duration(lo+i) * step).UnixNano()}
		}
		return r.s.fns.park.until.DispatchMany(ctx, r.s.eng, in)
	}); err != nil {
		return "", err
	}
	at, err := r.waitParked(ctx, r.n, due)
	if err != nil {
		return "", err
	}
	r.add("park_time", "s", at.Sub(t0).Seconds(), false)
	if over == 0 {
		if err := r.addParked(ctx); err != nil {
			return "", err
		}
	}
	r.profile(ctx, "wake")
	if dir := os.Getenv("STENT_BENCH_W6_DUMP"); dir != "" {
		// A goroutine dump in the middle of the wake (diagnostics).
		go func() {
			time.Sleep(time.Until(due) + time.Second)
			prefix := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-waking", r.spec.Case.Store, r.spec.Case.Variant, r.n))
			var ds procStats
			_ = r.wp.request(ctx, "dump "+prefix, &ds)
		}()
	}
	st, err := r.waitCompleted(ctx, r.n)
	r.profile(ctx, "")
	if err != nil {
		return "", err
	}
	l, err := r.lateness(ctx)
	if err != nil {
		return "", err
	}
	r.add("late_p50", "ms", l.P50, false)
	r.add("late_p90", "ms", l.P90, false)
	r.add("late_p99", "ms", l.P99, false)
	r.add("late_max", "ms", l.Max, false)
	if over == 0 {
		r.add("all_resumed", "ms", l.Max, false) // every timer has the same due instant
		r.add("all_completed", "ms", ms(time.Unix(0, st.LastDone).Sub(due)), false)
	}
	if err := verifyCount(ctx, int64(r.n), r.s.countCompleted); err != nil {
		return "", err
	}
	if over == 0 {
		return fmt.Sprintf("app.Sleep until one whole second, %s after dispatch began (all parked before)", due.Sub(t0).Round(time.Millisecond)), nil
	}
	return fmt.Sprintf("app.Sleep until instants spread uniformly over %s from %s after dispatch began (all parked before)",
		over, r.margin().Round(time.Millisecond)), nil
}
