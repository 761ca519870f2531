// Package flowlimits_test soaks the flow limits (feature 057) with several
// engines on one store: a seeded randomised property test of concurrency
// keys, and a rate-limit test counting the claim times the store recorded.
//
//	go test ./tests/flowlimits/ -v                  # 2,000 tasks per store
//	go test ./tests/flowlimits/ -short              # 300 tasks
//	STENT_FLOW_SEED=7 go test ./tests/flowlimits/   # another seed
package flowlimits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

const engines = 3

// storesOf returns engines stores on one database: SQLite shares one
// store (one writer), PostgreSQL gives each engine its own pool.
func storesOf(t *testing.T, kind string) []ports.Store {
	t.Helper()
	out := make([]ports.Store, engines)
	switch kind {
	case "sqlite":
		s := teststore.SQLite(t)
		for i := range out {
			out[i] = s
		}
	case "postgres":
		schema := teststore.NewSchema(t)
		for i := range out {
			out[i] = teststore.PostgresIn(t, teststore.Pool(t, 4), schema)
		}
	default:
		s := teststore.Mem(t)
		for i := range out {
			out[i] = s
		}
	}
	return out
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv("STENT_FLOW_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STENT_FLOW_SEED=%q: %v", s, err)
		}
		return n
	}
	return 57
}

// ledger records the bodies' starts and ends outside the store.
type ledger struct {
	mu         sync.Mutex
	limit      int
	live       map[string]int
	peak       map[string]int
	done       map[int]bool
	violations []string
}

func (l *ledger) start(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[key]++
	l.peak[key] = max(l.peak[key], l.live[key])
	if l.live[key] > l.limit {
		l.violations = append(l.violations, fmt.Sprintf("key %s: %d bodies running at once; the limit is %d", key, l.live[key], l.limit))
	}
}

func (l *ledger) end(key string, id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[key]--
	l.done[id] = true
}

func (l *ledger) finished() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.done)
}

type job struct {
	ID  int    `json:"id"`
	Key string `json:"key"`
}

// startEngines builds one engine with a worker per store and returns the
// first engine (to dispatch on).
func startEngines(t *testing.T, stores []ports.Store, register func(reg *app.Registry)) *app.Engine {
	t.Helper()
	var first *app.Engine
	for i, s := range stores {
		reg := app.NewRegistry()
		register(reg)
		eng, err := app.New(app.Deps{Store: s, Registry: reg},
			app.Config{PollInterval: 5 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("app.New: %v", err)
		}
		w, err := eng.NewWorker(app.WorkerOptions{MaxConcurrency: 8, PollInterval: 5 * time.Millisecond,
			PollIntervalMax: 50 * time.Millisecond, Name: fmt.Sprintf("engine-%d", i)})
		if err != nil {
			t.Fatalf("NewWorker: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
			_ = eng.Close()
		})
		if first == nil {
			first = eng
		}
	}
	return first
}

func dispatchAll[O any](t *testing.T, eng *app.Engine, f *app.Function[job, O], jobs []job) {
	t.Helper()
	for from := 0; from < len(jobs); from += 250 {
		if _, err := f.DispatchMany(t.Context(), eng, jobs[from:min(from+250, len(jobs))]); err != nil {
			t.Fatalf("DispatchMany: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrencyKeysProperty dispatches tasks with random keys to three
// engines on one store. Every body records its start and end in a
// ledger: no key ever has more than the limit running, and every task
// completes (no starvation).
func TestConcurrencyKeysProperty(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			n, keys := 2000, 40
			if testing.Short() {
				n, keys = 300, 12
			}
			const limit = 2
			sd := seed(t)
			t.Logf("seed %d (STENT_FLOW_SEED), %d tasks, %d keys, limit %d", sd, n, keys, limit)
			rng := rand.New(rand.NewPCG(sd, 57))
			stores := storesOf(t, kind)
			l := &ledger{limit: limit, live: map[string]int{}, peak: map[string]int{}, done: map[int]bool{}}
			var fn *app.Function[job, int]
			eng := startEngines(t, stores, func(reg *app.Registry) {
				fn = app.Register(reg, "per-key", func(ctx context.Context, j job) (int, error) {
					l.start(j.Key)
					time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
					l.end(j.Key, j.ID)
					return j.ID, nil
				}, app.WithConcurrency(limit, func(j job) string { return j.Key }))
			})
			jobs := make([]job, n)
			for i := range jobs {
				// Skewed keys: a few hot keys and a long tail.
				k := rng.IntN(keys)
				if rng.IntN(3) == 0 {
					k = rng.IntN(3)
				}
				jobs[i] = job{ID: i, Key: fmt.Sprintf("customer-%02d", k)}
			}
			dispatchAll(t, eng, fn, jobs)
			waitFor(t, fmt.Sprintf("%d bodies to finish", n), 120*time.Second, func() bool { return l.finished() == n })
			waitFor(t, "every execution to complete", 30*time.Second, func() bool {
				got, err := stores[0].ListExecutions(t.Context(), ports.ExecutionFilter{
					States: []domain.ExecutionState{domain.ExecutionCompleted}, Function: "per-key", Limit: n + 1})
				return err == nil && len(got) == n
			})
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, v := range l.violations {
				t.Error(v)
			}
			hit := 0
			for _, p := range l.peak {
				if p == limit {
					hit++
				}
			}
			t.Logf("%d of %d keys reached the limit", hit, len(l.peak))
		})
	}
}

// TestRateLimitWindows runs a rate-limited function on three engines and
// checks the claim times the store recorded (each task's StartedAt): no
// window of the period holds more than n starts.
func TestRateLimitWindows(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memstore", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			const rate, per = 10, 200 * time.Millisecond
			n := 60
			if testing.Short() {
				n = 30
			}
			stores := storesOf(t, kind)
			var mu sync.Mutex
			done := map[int]bool{}
			var fn *app.Function[job, int]
			eng := startEngines(t, stores, func(reg *app.Registry) {
				fn = app.Register(reg, "rated", func(ctx context.Context, j job) (int, error) {
					mu.Lock()
					done[j.ID] = true
					mu.Unlock()
					return j.ID, nil
				}, app.WithRateLimit(rate, per, func(j job) string { return j.Key }))
			})
			jobs := make([]job, n)
			for i := range jobs {
				jobs[i] = job{ID: i, Key: "api"}
			}
			dispatchAll(t, eng, fn, jobs)
			waitFor(t, "every rated task to run", 60*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(done) == n
			})
			tasks, err := stores[0].ListTasks(t.Context(), ports.TaskFilter{StepName: "rated", Limit: n + 1})
			if err != nil {
				t.Fatalf("ListTasks: %v", err)
			}
			var starts []time.Time
			for _, tk := range tasks {
				if tk.StartedAt == nil {
					t.Fatalf("task %s has no start time", tk.ID)
				}
				starts = append(starts, *tk.StartedAt)
			}
			slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
			for i := rate; i < len(starts); i++ {
				if gap := starts[i].Sub(starts[i-rate]); gap < per {
					t.Errorf("starts %d and %d are %s apart: %d starts within %s; the limit is %d", i-rate, i, gap, rate+1, per, rate)
				}
			}
			if span := starts[len(starts)-1].Sub(starts[0]); span < time.Duration(n/rate-1)*per {
				t.Errorf("%d starts spanned %s; at %d per %s they need at least %s", n, span, rate, per, time.Duration(n/rate-1)*per)
			}
		})
	}
}
