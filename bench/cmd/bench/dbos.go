package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	_ "github.com/dbos-inc/dbos-transact-golang/dbos/driver/sqlite" // DBOS's SQLite system database
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBOS names and settings.
const (
	dbosQueueName = "bench"
	// dbosQueuePoll is the queue's base polling interval: DBOS's default
	// is 1s, which would cap a burn-down at WorkerConcurrency per second;
	// 20ms matches River's fast FetchPollInterval.
	dbosQueuePoll = 20 * time.Millisecond
	// dbosHandlePoll is GetResult's polling interval for queued workflows
	// (default 1s).
	dbosHandlePoll = 10 * time.Millisecond
	// dbosEnqueueBatch enqueues this many workflows per transaction
	// (WithEnqueueTransaction).
	dbosEnqueueBatch = 1000
)

// dbosApp is a DBOS context on the run's system database with the bench
// workflows registered.
type dbosApp struct {
	ctx      dbos.Context
	queue    dbos.Queue
	pool     *pgxpool.Pool // PostgreSQL
	db       *sql.DB       // SQLite
	settings string
	bodies   atomic.Int64 // workflow bodies of the counted kind that returned
	noop     dbos.Workflow[int, int]
	wf10     dbos.Workflow[int, int]
	child    dbos.Workflow[int, int]
	fanout   dbos.Workflow[int, int]
	sleep    dbos.Workflow[int64, int] // W6: dbos.Sleep for the input (ms)
}

func newDBOSApp(ctx context.Context, spec runSpec) (*dbosApp, error) {
	a := &dbosApp{}
	cfg := dbos.Config{AppName: "stent-bench", Logger: slog.New(slog.DiscardHandler)}
	switch spec.Case.Store {
	case storePG:
		pool, err := pgxpool.New(ctx, spec.PGDSN)
		if err != nil {
			return nil, err
		}
		a.pool, cfg.SystemDBPool = pool, pool
		a.settings = fmt.Sprintf("system DB on PostgreSQL, pgxpool pool_max_conns=%d, synchronous_commit=on", pgPoolMaxConns)
	case storeSQLite:
		// DBOS's own SQLite defaults (OpenSQLitePool), on a handle we own so
		// enqueues can share our transactions.
		db, err := sql.Open("sqlite", "file:"+spec.SQLitePath+
			"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(4)
		a.db, cfg.SQLiteSystemDB = db, db
		a.settings = "DBOS SQLite defaults: WAL, synchronous=NORMAL, busy_timeout=5000, _txlock=immediate, 8 connections"
	default:
		return nil, fmt.Errorf("dbos store %q: %w", spec.Case.Store, errNotApplicable)
	}
	dctx, err := dbos.NewContext(ctx, cfg)
	if err != nil {
		a.closeDB()
		return nil, fmt.Errorf("dbos: %w", err)
	}
	a.ctx = dctx
	a.noop = func(ctx dbos.Context, i int) (int, error) {
		v, err := dbos.RunAsStep(ctx, func(context.Context) (int, error) { return i, nil }, dbos.WithStepName("noop"))
		a.bodies.Add(1)
		return v, err
	}
	a.wf10 = func(ctx dbos.Context, i int) (int, error) {
		sum := 0
		for step := range 10 {
			v, err := dbos.RunAsStep(ctx, func(context.Context) (int, error) { return step, nil }, dbos.WithStepName("child"))
			if err != nil {
				return 0, err
			}
			sum += v
		}
		a.bodies.Add(1)
		return sum, nil
	}
	a.child = func(_ dbos.Context, i int) (int, error) { return i, nil }
	a.fanout = func(ctx dbos.Context, n int) (int, error) {
		var opts []dbos.WorkflowOption
		if spec.Case.Variant == varQueue {
			opts = append(opts, dbos.WithQueue(a.queue))
		}
		handles := make([]dbos.WorkflowHandle[int], n)
		for i := range n {
			h, err := dbos.RunWorkflow(ctx, a.child, i, opts...)
			if err != nil {
				return 0, err
			}
			handles[i] = h
		}
		sum := 0
		for _, h := range handles {
			v, err := h.GetResult(dbos.WithHandlePollingInterval(dbosHandlePoll))
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	}
	dbos.RegisterWorkflow(dctx, a.noop, dbos.WithWorkflowName("bench.noop"))
	dbos.RegisterWorkflow(dctx, a.wf10, dbos.WithWorkflowName("bench.wf10"))
	dbos.RegisterWorkflow(dctx, a.child, dbos.WithWorkflowName("bench.child"))
	dbos.RegisterWorkflow(dctx, a.fanout, dbos.WithWorkflowName("bench.fanout"))
	a.sleep = func(ctx dbos.Context, ms int64) (int, error) {
		_, err := dbos.Sleep(ctx, time.Duration(ms)*time.Millisecond)
		return 0, err
	}
	dbos.RegisterWorkflow(dctx, a.sleep, dbos.WithWorkflowName("bench.sleep"))
	if spec.Case.Variant == varQueue {
		q, err := dbos.RegisterQueue(dctx, dbosQueueName,
			dbos.WithWorkerConcurrency(spec.Sizes.Concurrency), dbos.WithQueueBasePollingInterval(dbosQueuePoll))
		if err != nil {
			a.shutdown()
			return nil, fmt.Errorf("dbos queue: %w", err)
		}
		a.queue = q
		a.settings += fmt.Sprintf("; queue WorkerConcurrency=%d, BasePollingInterval=%s, GetResult poll %s",
			spec.Sizes.Concurrency, dbosQueuePoll, dbosHandlePoll)
	} else if spec.Case.Workload != w6 {
		a.settings += fmt.Sprintf("; RunWorkflow direct, %d in flight", spec.Sizes.Concurrency)
	}
	return a, nil
}

func (a *dbosApp) closeDB() {
	if a.pool != nil {
		a.pool.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

func (a *dbosApp) shutdown() {
	_ = dbos.Shutdown(a.ctx, 30*time.Second)
	a.closeDB()
}

// countSuccess counts workflows in SUCCESS in the system database.
func (a *dbosApp) countSuccess(ctx context.Context) (int64, error) {
	var n int64
	if a.pool != nil {
		err := a.pool.QueryRow(ctx, "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'").Scan(&n)
		return n, err
	}
	err := a.db.QueryRowContext(ctx, "SELECT count(*) FROM workflow_status WHERE status = 'SUCCESS'").Scan(&n)
	return n, err
}

// enqueueBatched enqueues n workflows by name, dbosEnqueueBatch per
// transaction, before the context is launched.
func (a *dbosApp) enqueueBatched(ctx context.Context, name string, n int) error {
	for i := 0; i < n; {
		end := min(i+dbosEnqueueBatch, n)
		if err := a.inTx(ctx, func(tx any) error {
			for ; i < end; i++ {
				if _, err := dbos.Enqueue[int](a.ctx, dbosQueueName, name, i, dbos.WithEnqueueTransaction(tx)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("dbos enqueue: %w", err)
		}
	}
	return nil
}

func (a *dbosApp) inTx(ctx context.Context, f func(tx any) error) error {
	if a.pool != nil {
		tx, err := a.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := f(tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// awaitBodies waits until n counted workflow bodies returned, then until
// the system database shows want workflows in SUCCESS (the status is
// written after the body returns), and returns that moment.
func (a *dbosApp) awaitBodies(ctx context.Context, n int, want int64) (time.Time, error) {
	for a.bodies.Load() < int64(n) {
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("dbos: %d of %d workflows ran: %w", a.bodies.Load(), n, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	if err := waitCount(ctx, want, 2*time.Millisecond, a.countSuccess); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

// runDBOS runs one DBOS case.
func runDBOS(ctx context.Context, spec runSpec) (runResult, error) {
	a, err := newDBOSApp(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	defer a.shutdown()
	sz, queued := spec.Sizes, spec.Case.Variant == varQueue
	slots := sz.Concurrency
	switch spec.Case.Workload {
	case w1:
		n := sz.W1N
		var insert time.Duration
		var start, end time.Time
		if queued {
			t0 := time.Now()
			if err := a.enqueueBatched(ctx, "bench.noop", n); err != nil {
				return runResult{}, err
			}
			insert = time.Since(t0)
			start = time.Now()
			if err := dbos.Launch(a.ctx); err != nil {
				return runResult{}, err
			}
			if end, err = a.awaitBodies(ctx, n, int64(n)); err != nil {
				return runResult{}, err
			}
		} else {
			if err := dbos.Launch(a.ctx); err != nil {
				return runResult{}, err
			}
			start = time.Now()
			if err := a.runDirect(ctx, a.noop, n, slots); err != nil {
				return runResult{}, err
			}
			end = time.Now()
		}
		if err := verifyCount(ctx, int64(n), a.countSuccess); err != nil {
			return runResult{}, err
		}
		how := "; no insert phase: RunWorkflow starts each workflow at once (time includes starting them)"
		if queued {
			how = fmt.Sprintf("; Enqueue in transactions of %d before Launch", dbosEnqueueBatch)
		}
		return runResult{Metrics: throughputMetrics(n, "units", end.Sub(start), insert), N: n, Concurrency: slots,
			Settings: a.settings + "; one-step workflows" + how}, nil
	case w2:
		n := sz.W2N
		if err := dbos.Launch(a.ctx); err != nil {
			return runResult{}, err
		}
		start := time.Now()
		var end time.Time
		if queued {
			if err := runParallel(ctx, n, 32, func(i int) error {
				_, err := dbos.RunWorkflow(a.ctx, a.wf10, i, dbos.WithQueue(a.queue))
				return err
			}); err != nil {
				return runResult{}, err
			}
			if end, err = a.awaitBodies(ctx, n, int64(n)); err != nil {
				return runResult{}, err
			}
		} else {
			if err := a.runDirect(ctx, a.wf10, n, slots); err != nil {
				return runResult{}, err
			}
			end = time.Now()
		}
		if err := verifyCount(ctx, int64(n), a.countSuccess); err != nil {
			return runResult{}, err
		}
		return runResult{Metrics: throughputMetrics(n, "workflows", end.Sub(start), 0), N: n, Concurrency: slots,
			Settings: a.settings + "; 10 RunAsStep steps per workflow"}, nil
	case w3:
		n := sz.W3N
		if err := dbos.Launch(a.ctx); err != nil {
			return runResult{}, err
		}
		start := time.Now()
		h, err := dbos.RunWorkflow(a.ctx, a.fanout, n)
		if err != nil {
			return runResult{}, err
		}
		sum, err := h.GetResult()
		if err != nil {
			return runResult{}, err
		}
		elapsed := time.Since(start)
		if want := n * (n - 1) / 2; sum != want {
			return runResult{}, fmt.Errorf("dbos fan-out gathered %d; want %d", sum, want)
		}
		return runResult{Metrics: fanOutMetrics(n, elapsed), N: n, Concurrency: slots,
			Settings: a.settings + fmt.Sprintf("; parent starts %d child workflows, then GetResult on each", n)}, nil
	case w4:
		if err := dbos.Launch(a.ctx); err != nil {
			return runResult{}, err
		}
		samples := offeredLoad(ctx, sz.W4Rate, sz.W4Duration, func(ctx context.Context, i int) (time.Time, error) {
			var opts []dbos.WorkflowOption
			if queued {
				opts = append(opts, dbos.WithQueue(a.queue))
			}
			h, err := dbos.RunWorkflow(a.ctx, a.noop, i, opts...)
			if err != nil {
				return time.Time{}, err
			}
			_, err = h.GetResult(dbos.WithHandleTimeout(60*time.Second), dbos.WithHandlePollingInterval(dbosHandlePoll))
			return time.Time{}, err
		})
		metrics, err := latencyMetrics(samples, false)
		if err != nil {
			return runResult{}, err
		}
		return runResult{Metrics: metrics, N: len(samples), Concurrency: slots,
			Settings: a.settings + fmt.Sprintf("; one-step workflow, RunWorkflow -> GetResult; %d/s for %s", sz.W4Rate, sz.W4Duration)}, nil
	case w6:
		return a.parked(ctx, spec)
	}
	return runResult{}, fmt.Errorf("dbos %s: %w", spec.Case.Workload, errNotApplicable)
}

// countSleeping counts the workflows whose DBOS.sleep step is checkpointed:
// dbos.Sleep writes it, then blocks its goroutine on a timer.
func (a *dbosApp) countSleeping(ctx context.Context) (int64, error) {
	var n int64
	const q = "SELECT count(*) FROM %soperation_outputs WHERE function_name = 'DBOS.sleep'"
	if a.pool != nil {
		err := a.pool.QueryRow(ctx, fmt.Sprintf(q, "dbos.")).Scan(&n)
		return n, err
	}
	err := a.db.QueryRowContext(ctx, fmt.Sprintf(q, "")).Scan(&n)
	return n, err
}

// parked is W6 for DBOS: N workflows each dbos.Sleep(W6SleepFor), started
// with RunWorkflow in this process (DBOS runs workflows where they are
// started; there is no separate worker process), measured in this process
// once every sleep step is checkpointed. Each sleeping workflow is a
// goroutine blocked on a timer.
func (a *dbosApp) parked(ctx context.Context, spec runSpec) (runResult, error) {
	sz := spec.Sizes
	if spec.Case.Variant != varSleep {
		return runResult{}, fmt.Errorf("dbos W6 %s: %w", spec.Case.Variant, errNotApplicable)
	}
	n := w6N(spec.Case, sz)
	if err := dbos.Launch(a.ctx); err != nil {
		return runResult{}, err
	}
	idle := selfStats()
	const starters = 32
	sleepMs := sz.W6SleepFor.Milliseconds()
	t0 := time.Now()
	if err := runParallel(ctx, n, starters, func(int) error {
		_, err := dbos.RunWorkflow(a.ctx, a.sleep, sleepMs)
		return err
	}); err != nil {
		return runResult{}, fmt.Errorf("dbos RunWorkflow: %w", err)
	}
	dispatch := time.Since(t0)
	interval := 20 * time.Millisecond
	if err := waitCount(ctx, int64(n), interval, a.countSleeping); err != nil {
		return runResult{}, err
	}
	sleeping := time.Since(t0)
	st := selfStats()
	m := []metric{
		{Name: "dispatch_rate", Unit: "workflows/s", Value: float64(n) / dispatch.Seconds(), HigherIsBetter: true},
		{Name: "park_time", Unit: "s", Value: sleeping.Seconds()},
		{Name: "rss", Unit: "MiB", Value: kib(st.RSSKiB)},
		{Name: "goroutines", Unit: "goroutines", Value: float64(st.Goroutines)},
		{Name: "heap_inuse", Unit: "MiB", Value: float64(st.HeapInuse) / (1 << 20)},
		{Name: "worker_peak_rss", Unit: "MiB", Value: kib(st.HWMKiB)},
		{Name: "idle_rss", Unit: "MiB", Value: kib(idle.RSSKiB)},
		{Name: "idle_goroutines", Unit: "goroutines", Value: float64(idle.Goroutines)},
	}
	return runResult{Metrics: m, N: n, Concurrency: n,
		Settings: a.settings + fmt.Sprintf("; dbos.Sleep(%s); RunWorkflow from %d goroutines, each workflow running in this process; "+
			"measured here once all %d DBOS.sleep steps are checkpointed", sz.W6SleepFor, starters, n)}, nil
}

// runDirect runs n workflows with RunWorkflow, at most slots in flight,
// each awaited through its handle (resolved once the outcome is written).
func (a *dbosApp) runDirect(ctx context.Context, wf dbos.Workflow[int, int], n, slots int) error {
	return runParallel(ctx, n, slots, func(i int) error {
		h, err := dbos.RunWorkflow(a.ctx, wf, i)
		if err != nil {
			return err
		}
		_, err = h.GetResult()
		return err
	})
}
