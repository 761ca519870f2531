// Package chaos runs seeded fault soaks against real worker processes and
// checks invariants over an external ledger that the step bodies append
// to. Three worker processes share one store (SQLite file or PostgreSQL
// schema); one of them is SIGKILLed every 2-4 s (seeded) and restarted
// under the same name. With the default retry policy every workflow must
// complete with the right result, no task may be dead-lettered, no task
// may spend an attempt on a crash, and no step body may run again after
// its checkpoint was recorded. TestOutagesCostNothing (outages_test.go)
// holds the same invariants while PostgreSQL goes away for seconds and the
// Redis server the notifications go through is killed.
//
// `make test` runs the short form (about a minute per store); `make chaos`
// runs the long form (STENT_CHAOS=long: 500 workflows per store).
// STENT_CHAOS_SEED picks the seed (default: from the clock, logged);
// STENT_CHAOS_REPORT names a directory for the JSON figures.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

const (
	envRole   = "STENT_CHAOS_ROLE"   // "worker" in a worker process
	envTarget = "STENT_CHAOS_TARGET" // the store target (see openStore)
	envLedger = "STENT_CHAOS_LEDGER" // the ledger file
	envName   = "STENT_CHAOS_NAME"   // the worker's name
	envSlow   = "STENT_CHAOS_SLOW"   // step body duration range, e.g. "10ms-60ms"
	envCron   = "STENT_CHAOS_CRON"   // "1": the worker declares the 1-second schedule (schedules_test.go)
	envPGDSN  = "STENT_CHAOS_PGDSN"  // the PostgreSQL DSN, when not STENT_TEST_POSTGRES_DSN (the outage proxy)
	envRedis  = "STENT_CHAOS_REDIS"  // a Redis URL: notifications go through it (outages_test.go)
)

// TestChaosWorkerProcess is a worker process; only the soaks below run it,
// re-executing the test binary.
func TestChaosWorkerProcess(t *testing.T) {
	if os.Getenv(envRole) != "worker" {
		t.Skip("helper process for the chaos soaks")
	}
	ctx := context.Background()
	st, n, err := openStore(ctx, os.Getenv(envTarget), connsFromEnv())
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(3)
	}
	lo, hi := parseSlow(os.Getenv(envSlow))
	reg := app.NewRegistry()
	l := newLedger(os.Getenv(envLedger))
	register(reg, l, lo, hi)
	if os.Getenv(envCron) == "1" {
		registerTicks(reg, l)
	}
	eng, err := app.New(app.Deps{Store: st, Notifier: n, Registry: reg, Metrics: checkpoints{l: l}}, app.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(3)
	}
	// Every setting is the default but the name (restart adoption) and the
	// slots; the retry policy is the default one.
	_ = eng.Serve(ctx, app.WorkerOptions{Name: os.Getenv(envName), MaxConcurrency: 32})
	os.Exit(0)
}

// soak describes one run.
type soak struct {
	workflows int           // how many to dispatch
	rate      float64       // dispatches per second
	killEvery [2]int        // SIGKILL one worker every [lo, hi) seconds; 0: one kill only
	restart   bool          // restart a killed worker under its name
	slow      string        // step body durations
	limit     time.Duration // a stall: the run fails if no workflow is dispatched or finishes for this long
	pgOutages bool          // faults also cut PostgreSQL for 1-3 s (PostgreSQL targets; outages_test.go)
	redisLoss bool          // faults also kill the Redis server for 1-4 s (notifications go through it)
}

// report is the figures of one run.
type report struct {
	Store           string  `json:"store"`
	Seed            uint64  `json:"seed"`
	Workflows       int     `json:"workflows"`
	Completed       int     `json:"completed"`
	Kills           int     `json:"kills"`
	Seconds         float64 `json:"seconds"`
	Recoveries      int     `json:"recoveries"`
	Reruns          int     `json:"step_bodies_rerun_after_a_kill"`
	DoneTwice       int     `json:"step_bodies_that_returned_twice"`
	DeadLetters     int64   `json:"dead_letters"`
	Checkpoints     int     `json:"checkpoints_recorded"`
	DupCheckpoints  int     `json:"duplicate_step_completions"`
	RerunsAfterDone int     `json:"step_bodies_run_after_their_checkpoint"`
	SpentAttempts   int     `json:"attempts_spent_on_crashes"`
	LastAfterKill   float64 `json:"last_completion_after_the_kill_s,omitempty"`
	DispatchRetries int     `json:"dispatches_retried_on_unavailable"`
	PGOutages       int     `json:"postgres_outages,omitempty"`
	RedisKills      int     `json:"redis_kills,omitempty"`
	WaitRetries     int     `json:"waits_retried_on_unavailable,omitempty"`
	Violations      []string
}

func long() bool { return os.Getenv("STENT_CHAOS") == "long" }

func seed(t *testing.T) uint64 {
	if s := os.Getenv("STENT_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STENT_CHAOS_SEED=%q is not a number", s)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestKillsCostNothing kills a worker every 2-4 s while workflows run.
func TestKillsCostNothing(t *testing.T) {
	s := soak{workflows: 300, rate: 8, killEvery: [2]int{2, 4}, restart: true, slow: "20ms-150ms", limit: 90 * time.Second}
	if long() {
		s.workflows, s.rate, s.limit = 500, 4, 3*time.Minute
	}
	forEachStore(t, func(t *testing.T, target string) { run(t, target, s) })
}

// TestOneKillWithTheDefaultLease kills one worker for good: its tasks are
// adopted by the others (the dead worker's heartbeat goes stale), and
// every workflow completes within 30 s of the kill although the lease is
// the default 5 minutes.
func TestOneKillWithTheDefaultLease(t *testing.T) {
	s := soak{workflows: 60, rate: 60, slow: "200ms-600ms", limit: 60 * time.Second}
	forEachStore(t, func(t *testing.T, target string) {
		r := run(t, target, s)
		if r.LastAfterKill > 30 {
			t.Errorf("the last workflow completed %.1f s after the kill; want within 30 s", r.LastAfterKill)
		}
	})
}

func run(t *testing.T, target string, s soak) report {
	seed := seed(t)
	rnd := rand.New(rand.NewPCG(seed, seed^0x5eed))
	t.Logf("seed %d (STENT_CHAOS_SEED=%d reproduces the kill schedule)", seed, seed)
	// The run ends when every workflow has finished, when none has
	// finished for s.limit (a stall: the failure this soak looks for), or
	// shortly before the test binary's own deadline. A fixed total budget
	// failed on a machine shared with other CPU-heavy jobs although every
	// workflow was still making progress.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d, ok := t.Deadline(); ok {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, d.Add(-45*time.Second))
		defer stop()
	}
	var progress atomic.Int64
	watchdogDone := make(chan struct{})
	defer close(watchdogDone)
	go stallWatchdog(cancel, &progress, s.limit, watchdogDone)
	f := setUpFaults(t, target, s)
	st, n := openTestStore(ctx, t, target, f.conns())
	ledgerPath := filepath.Join(t.TempDir(), "ledger")
	lo, hi := parseSlow(s.slow)
	reg := app.NewRegistry()
	flow := register(reg, newLedger(ledgerPath), lo, hi)
	client, err := app.New(app.Deps{Store: st, Notifier: n, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	pool := newPool(t, target, ledgerPath, s.slow, 3, f.env()...)
	start := time.Now()
	var ids []string
	var idsMu sync.Mutex
	var dispatchRetries atomic.Int64
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		tick := time.NewTicker(time.Duration(float64(time.Second) / s.rate))
		defer tick.Stop()
		for i := range s.workflows {
			id, retries, err := dispatchRetrying(ctx, flow, client, seed, i)
			dispatchRetries.Add(int64(retries))
			progress.Add(1)
			if err != nil {
				t.Errorf("dispatch %d: %v", i, err)
				return
			}
			idsMu.Lock()
			ids = append(ids, id)
			idsMu.Unlock()
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()

	// The killer: one worker every killEvery seconds (seeded), restarted
	// under its name; or a single kill for good. With outages set up, each
	// fault is a kill, a PostgreSQL outage or a Redis kill (seeded).
	kills, pgOutages, redisKills := 0, 0, 0
	kinds := f.kinds()
	var killedAt time.Time
	stopKiller := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		if s.killEvery[1] == 0 {
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-stopKiller:
				return
			}
			pool.kill(rnd.IntN(len(pool.workers)), false)
			kills, killedAt = 1, time.Now()
			return
		}
		for {
			d := time.Duration(s.killEvery[0])*time.Second +
				time.Duration(rnd.Int64N(int64(time.Duration(s.killEvery[1]-s.killEvery[0])*time.Second)))
			select {
			case <-time.After(d):
			case <-stopKiller:
				return
			}
			switch kinds[rnd.IntN(len(kinds))] {
			case "kill":
				pool.kill(rnd.IntN(len(pool.workers)), s.restart)
				kills++
			case "pg":
				pgOutages++
				f.outage(t, "pg", time.Second+time.Duration(rnd.Int64N(int64(2*time.Second))), stopKiller)
			case "redis":
				redisKills++
				f.outage(t, "redis", time.Second+time.Duration(rnd.Int64N(int64(3*time.Second))), stopKiller)
			}
		}
	}()

	<-dispatched
	idsMu.Lock()
	all := slices.Clone(ids)
	idsMu.Unlock()
	finished := map[string]time.Time{}
	waitRetries := 0
	for _, id := range all {
		res, retries, err := waitRetrying(ctx, client, id)
		waitRetries += retries
		if err != nil {
			t.Errorf("workflow %s did not finish: %v", id, err)
			continue
		}
		finished[id] = time.Now()
		progress.Add(1)
		if res.State != domain.ExecutionCompleted {
			t.Errorf("workflow %s ended %s: %v", id, res.State, res.Err())
		}
	}
	close(stopKiller)
	<-killerDone
	pool.stop()

	// The checker reads the store with a fresh budget: the run's context
	// may have ended (a stall), and the report should still say why.
	checkCtx, checkCancel := context.WithTimeout(context.Background(), time.Minute)
	defer checkCancel()
	r := check(t, checkCtx, st, ledgerPath, all)
	r.Store, r.Seed, r.Kills, r.Seconds = storeName(target), seed, kills, time.Since(start).Seconds()
	r.DispatchRetries = int(dispatchRetries.Load())
	r.PGOutages, r.RedisKills, r.WaitRetries = pgOutages, redisKills, waitRetries
	if !killedAt.IsZero() {
		var last time.Time
		for _, at := range finished {
			if at.After(last) {
				last = at
			}
		}
		r.LastAfterKill = last.Sub(killedAt).Seconds()
	}
	for _, v := range r.Violations {
		t.Error(v)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	t.Logf("figures:\n%s", b)
	if dir := os.Getenv("STENT_CHAOS_REPORT"); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		name := strings.ReplaceAll(strings.TrimPrefix(t.Name(), "Test"), "/", "-")
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
			t.Errorf("write the figures: %v", err)
		}
	}
	return r
}

// stallWatchdog cancels the run when progress (dispatches and finished
// workflows) has not moved for window.
func stallWatchdog(cancel context.CancelFunc, progress *atomic.Int64, window time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(window / 10)
	defer tick.Stop()
	last, lastAt := progress.Load(), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			if p := progress.Load(); p != last {
				last, lastAt = p, now
			} else if now.Sub(lastAt) >= window {
				cancel()
				return
			}
		}
	}
}

// dispatchRetrying dispatches workflow i as a careful client does: under an
// idempotency key, retrying while the store answers ErrUnavailable. On
// SQLite, three worker processes restarted every few seconds can hold the
// writer lock past the busy timeout of a dispatch (seen in CI under -race);
// on PostgreSQL an outage lasts up to 3 s. The key makes a retry after an
// ambiguous failure return the first execution instead of a second one, so
// nothing is lost or doubled.
func dispatchRetrying(ctx context.Context, flow *app.Function[int, int], client *app.Engine, seed uint64, i int) (string, int, error) {
	key := fmt.Sprintf("chaos-%d-%d", seed, i)
	for retries := 0; ; retries++ {
		id, err := flow.Dispatch(ctx, client, i, app.WithIdempotencyKey(key))
		if err == nil || !errors.Is(err, domain.ErrUnavailable) || retries >= 100 {
			return id, retries, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return "", retries, ctx.Err()
		}
	}
}

// waitRetrying waits for execution id as a careful client does: a wait cut
// by an outage (ErrUnavailable) is started again.
func waitRetrying(ctx context.Context, client *app.Engine, id string) (domain.Result, int, error) {
	for retries := 0; ; retries++ {
		res, err := client.WaitFor(ctx, id)
		if err == nil || !errors.Is(err, domain.ErrUnavailable) || retries >= 100 {
			return res, retries, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return res, retries, ctx.Err()
		}
	}
}

// check verifies the invariants over the store and the ledger.
func check(t *testing.T, ctx context.Context, st ports.Store, ledgerPath string, ids []string) report {
	t.Helper()
	r := report{Workflows: len(ids)}
	entries := readLedger(t, ledgerPath)
	byStep := map[string][]entry{}
	recorded := map[string]int{}
	for _, e := range entries {
		if e.Kind == "checkpoint" {
			recorded[e.Key]++
			continue
		}
		byStep[e.key()] = append(byStep[e.key()], e)
	}
	for task, n := range recorded {
		r.Checkpoints++
		if n > 1 {
			r.DupCheckpoints += n - 1
			r.Violations = append(r.Violations, fmt.Sprintf("task %s: its completion was recorded %d times", task, n))
		}
	}
	for _, id := range ids {
		ex, err := st.GetExecution(ctx, id)
		if err != nil {
			r.Violations = append(r.Violations, fmt.Sprintf("execution %s: %v", id, err))
			continue
		}
		if ex.State != domain.ExecutionCompleted {
			r.Violations = append(r.Violations, fmt.Sprintf("execution %s is %s", id, ex.State))
			continue
		}
		r.Completed++
		var in int
		tasks, err := st.ListTasks(ctx, ports.TaskFilter{ExecutionID: id, Limit: 1000})
		if err != nil {
			r.Violations = append(r.Violations, fmt.Sprintf("tasks of %s: %v", id, err))
			continue
		}
		for _, task := range tasks {
			if task.IsRoot() {
				_ = json.Unmarshal(task.Input, &in)
			}
			r.Recoveries += task.Recoveries
			if task.Kind.Claimable() && task.Attempt > 1 {
				r.SpentAttempts += task.Attempt - 1
				why := "no error kept"
				if task.LastError != nil {
					why = fmt.Sprintf("its attempt %d failed with %s: %s", task.Attempt-1, task.LastError.Type, task.LastError.Message)
				}
				r.Violations = append(r.Violations, fmt.Sprintf("task %s (%s) has attempt %d: a fault spent an attempt (%s)", task.ID, task.StepName, task.Attempt, why))
			}
		}
		if want := expected(in); string(ex.Result) != strconv.Itoa(want) {
			r.Violations = append(r.Violations, fmt.Sprintf("execution %s returned %s; want %d", id, ex.Result, want))
		}
		// Every step body left a "done" entry, and none started after its
		// checkpoint was recorded.
		done := map[int]time.Time{}
		for _, task := range tasks {
			if task.Kind == domain.KindActivity && task.State == domain.TaskCompleted && task.FinishedAt != nil {
				var s stepIn
				if json.Unmarshal(task.Input, &s) == nil && s.Step > 0 {
					done[s.Step] = *task.FinishedAt
				}
			}
		}
		for step := 1; step <= steps; step++ {
			runs := byStep[fmt.Sprintf("%s/%d", id, step)]
			starts, dones := 0, 0
			for _, e := range runs {
				switch e.Kind {
				case "start":
					starts++
					if at, ok := done[step]; ok && e.At.After(at.Add(time.Millisecond)) {
						r.RerunsAfterDone++
						r.Violations = append(r.Violations, fmt.Sprintf("execution %s step %d started at %s, after its checkpoint at %s",
							id, step, e.At.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano)))
					}
				case "done":
					dones++
				}
			}
			if dones == 0 {
				r.Violations = append(r.Violations, fmt.Sprintf("execution %s step %d has no completed body in the ledger", id, step))
			}
			if starts > 1 {
				r.Reruns += starts - 1
			}
			if dones > 1 {
				r.DoneTwice += dones - 1 // killed between the body's end and its checkpoint
			}
		}
	}
	n, err := st.CountDeadLetters(ctx)
	if err != nil {
		r.Violations = append(r.Violations, fmt.Sprintf("count dead letters: %v", err))
	}
	r.DeadLetters = n
	if n != 0 {
		dls, _ := st.ListDeadLetters(ctx, ports.DeadLetterFilter{Limit: 5})
		for _, d := range dls {
			r.Violations = append(r.Violations, fmt.Sprintf("dead letter %s (%s): %s: %v", d.TaskID, d.StepName, d.Reason, d.Error))
		}
	}
	return r
}
