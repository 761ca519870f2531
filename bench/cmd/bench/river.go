package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" for riversqlite
)

// riverNoopArgs is the bench's no-op job.
type riverNoopArgs struct {
	I int `json:"i"`
}

func (riverNoopArgs) Kind() string { return "bench_noop" }

type riverNoopWorker struct {
	river.WorkerDefaults[riverNoopArgs]
}

func (riverNoopWorker) Work(context.Context, *river.Job[riverNoopArgs]) error { return nil }

// riverInsertBatch is the batch size of InsertManyFast (River's own
// benchmark inserts 5,000 at a time).
const riverInsertBatch = 5000

// riverSQLiteDSN opens the SQLite file as River's docs show
// (modernc.org/sqlite, one open connection), in WAL with
// synchronous=NORMAL like the other systems.
func riverSQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
}

// runRiver runs one River case.
func runRiver(ctx context.Context, spec runSpec) (runResult, error) {
	switch spec.Case.Store {
	case storePG:
		pool, err := pgxpool.New(ctx, spec.PGDSN)
		if err != nil {
			return runResult{}, err
		}
		defer pool.Close()
		count := func(ctx context.Context) (int64, error) {
			var n int64
			err := pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&n)
			return n, err
		}
		return runRiverWith(ctx, spec, riverpgxv5.New(pool), count,
			fmt.Sprintf("riverpgxv5, pgxpool pool_max_conns=%d, synchronous_commit=on", pgPoolMaxConns))
	case storeSQLite:
		db, err := sql.Open("sqlite", riverSQLiteDSN(spec.SQLitePath))
		if err != nil {
			return runResult{}, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // riversqlite's documented setting
		count := func(ctx context.Context) (int64, error) {
			var n int64
			err := db.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&n)
			return n, err
		}
		return runRiverWith(ctx, spec, riversqlite.New(db), count,
			"riversqlite (modernc.org/sqlite), WAL, synchronous=NORMAL, SetMaxOpenConns(1)")
	}
	return runResult{}, fmt.Errorf("river store %q: %w", spec.Case.Store, errNotApplicable)
}

// riverConfig is River's configuration of a variant.
func riverConfig(variant string, slots int, workers *river.Workers) (*river.Config, string) {
	cfg := &river.Config{
		Logger:  slog.New(slog.DiscardHandler),
		Workers: workers,
	}
	switch variant {
	case varFast:
		// River's own benchmark settings (cmd/river riverbench).
		cfg.FetchCooldown = 2 * time.Millisecond
		cfg.FetchPollInterval = 20 * time.Millisecond
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: slots}}
		return cfg, fmt.Sprintf("FetchCooldown=2ms, FetchPollInterval=20ms, MaxWorkers=%d", slots)
	default:
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 100}}
		return cfg, "defaults: FetchCooldown=100ms, FetchPollInterval=1s, MaxWorkers=100 (docs' example)"
	}
}

// migrateRiver brings River's tables on driver up to date.
func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

func runRiverWith[TTx any](ctx context.Context, spec runSpec, driver riverdriver.Driver[TTx], count func(context.Context) (int64, error), storeDesc string) (runResult, error) {
	if err := migrateRiver(ctx, driver); err != nil {
		return runResult{}, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, riverNoopWorker{})
	slots := spec.Sizes.Concurrency
	cfg, cfgDesc := riverConfig(spec.Case.Variant, slots, workers)
	if spec.Case.Variant != varFast {
		slots = 100
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return runResult{}, err
	}
	settings := storeDesc + "; " + cfgDesc
	switch spec.Case.Workload {
	case w1:
		return riverBurnDown(ctx, client, spec.Sizes.W1N, slots, count, settings)
	case w4:
		return riverLatency(ctx, client, spec.Sizes, slots, settings)
	}
	return runResult{}, fmt.Errorf("river %s: %w (River has no workflows or child steps)", spec.Case.Workload, errNotApplicable)
}

// riverBurnDown is W1: InsertManyFast n jobs in batches, then Start the
// client and count completion events (emitted once the completer has
// written the jobs) until the last one.
func riverBurnDown[TTx any](ctx context.Context, client *river.Client[TTx], n, slots int, count func(context.Context) (int64, error), settings string) (runResult, error) {
	t0 := time.Now()
	batch := make([]river.InsertManyParams, 0, riverInsertBatch)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < riverInsertBatch; i++ {
			batch = append(batch, river.InsertManyParams{Args: riverNoopArgs{I: i}})
		}
		if _, err := client.InsertManyFast(ctx, batch); err != nil {
			return runResult{}, fmt.Errorf("river insert: %w", err)
		}
	}
	insert := time.Since(t0)
	start := time.Now()
	events, stop, err := startRiverSubscribed(ctx, client, n+1000)
	if err != nil {
		return runResult{}, err
	}
	defer stop()
	var end time.Time
	for done, failed := 0, 0; done+failed < n; {
		select {
		case ev := <-events:
			if ev.Kind == river.EventKindJobCompleted {
				done++
			} else {
				failed++
			}
			end = time.Now()
		case <-ctx.Done():
			return runResult{}, fmt.Errorf("river: %d of %d jobs completed: %w", done, n, ctx.Err())
		}
	}
	if err := verifyCount(ctx, int64(n), count); err != nil {
		return runResult{}, err
	}
	return runResult{Metrics: throughputMetrics(n, "units", end.Sub(start), insert), N: n, Concurrency: slots,
		Settings: settings + fmt.Sprintf("; InsertManyFast batches of %d", riverInsertBatch)}, nil
}

// riverLatency is W4: Insert one job at a time at a steady rate; the
// client sees the completion through its subscription.
func riverLatency[TTx any](ctx context.Context, client *river.Client[TTx], sz sizes, slots int, settings string) (runResult, error) {
	events, stop, err := startRiverSubscribed(ctx, client, 100000)
	if err != nil {
		return runResult{}, err
	}
	defer stop()
	var waiters sync.Map // job id -> chan *river.Event
	waiter := func(id int64) chan *river.Event {
		ch, _ := waiters.LoadOrStore(id, make(chan *river.Event, 1))
		return ch.(chan *river.Event)
	}
	var stopped atomic.Bool
	go func() {
		for ev := range events {
			if stopped.Load() {
				return
			}
			waiter(ev.Job.ID) <- ev
		}
	}()
	defer stopped.Store(true)
	samples := offeredLoad(ctx, sz.W4Rate, sz.W4Duration, func(ctx context.Context, i int) (time.Time, error) {
		res, err := client.Insert(ctx, riverNoopArgs{I: i}, nil)
		if err != nil {
			return time.Time{}, err
		}
		select {
		case ev := <-waiter(res.Job.ID):
			if ev.Job.State != rivertype.JobStateCompleted {
				return time.Time{}, fmt.Errorf("job %d ended %s", ev.Job.ID, ev.Job.State)
			}
			return time.Time{}, nil
		case <-time.After(60 * time.Second):
			return time.Time{}, fmt.Errorf("job %d: no completion after 60s", res.Job.ID)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	})
	metrics, err := latencyMetrics(samples, false)
	if err != nil {
		return runResult{}, err
	}
	return runResult{Metrics: metrics, N: len(samples), Concurrency: slots,
		Settings: settings + fmt.Sprintf("; Insert per job, completion via Subscribe; %d/s for %s", sz.W4Rate, sz.W4Duration)}, nil
}

// startRiverSubscribed subscribes to the client's finish events (completed,
// failed, cancelled) with a buffer of chanSize, then starts the client.
// stop unsubscribes and stops the client (30 s at most).
func startRiverSubscribed[TTx any](ctx context.Context, client *river.Client[TTx], chanSize int) (events <-chan *river.Event, stop func(), err error) {
	events, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: chanSize,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled}})
	if err := client.Start(ctx); err != nil {
		cancelSub()
		return nil, nil, err
	}
	return events, func() {
		sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer c()
		_ = client.Stop(sctx)
		cancelSub()
	}, nil
}
