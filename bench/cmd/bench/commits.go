package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"modernc.org/sqlite"
)

// Commits per unit of work (issue 15, part 4): how many transactions each
// system commits per unit, next to its figures.
//
//   - PostgreSQL: the delta of pg_stat_database.xact_commit of the run's own
//     database, read by the parent before and after the child run, once
//     every backend of that database has exited (a backend flushes its
//     counters when it exits). It counts every committed transaction of
//     the run, read-only ones (polls, waits, counts) included, and the
//     setup (schema migration, the final count check).
//   - SQLite: a commit hook (modernc.org/sqlite's RegisterCommitHook,
//     installed on every connection by a connection hook) counts the write
//     transactions committed in the child process. SQLite calls the hook
//     only for transactions that wrote, so read-only transactions are not
//     counted, unlike on PostgreSQL. A worker in a second process (W6) is
//     not counted: those rows have no figure.

var sqliteCommits atomic.Int64

// countSQLiteCommits installs the commit counter on every SQLite connection
// the child opens (SQLite runs only).
func countSQLiteCommits(spec runSpec) {
	if spec.Case.Store != storeSQLite {
		return
	}
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
		if h, ok := conn.(sqlite.HookRegisterer); ok {
			h.RegisterCommitHook(func() int32 { sqliteCommits.Add(1); return 0 })
		}
		return nil
	})
}

// sqliteCommitCount is the child's count, or nil when it is not the whole
// run's (PostgreSQL, or a worker in another process).
func sqliteCommitCount(spec runSpec) *int64 {
	if spec.Case.Store != storeSQLite || spec.Case.Procs > 1 || spec.Case.Workload == w6 {
		return nil
	}
	n := sqliteCommits.Load()
	return &n
}

// pgXactCommit reads xact_commit of database name once no backend is
// connected to it and the figure has stopped moving (a backend leaves the
// activity list a moment before it flushes its counters).
func pgXactCommit(ctx context.Context, adminDSN, name string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, adminDSN)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var last int64 = -1
	stable := 0
	for {
		var backends int
		var commits int64
		err := conn.QueryRow(cctx, "SELECT numbackends, xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&backends, &commits)
		if err != nil {
			return 0, fmt.Errorf("pg_stat_database %s: %w", name, err)
		}
		if backends == 0 && commits == last {
			stable++
			if stable >= 2 {
				return commits, nil
			}
		} else {
			stable = 0
		}
		last = commits
		select {
		case <-cctx.Done():
			return 0, fmt.Errorf("pg_stat_database %s: still %d backends: %w", name, backends, cctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// addCommitsPerUnit appends the commits_per_unit metric to a successful
// run whose commits are known.
func addCommitsPerUnit(out *runOutcome) {
	if out.Err != nil || out.Commits < 0 || out.Result.N <= 0 {
		return
	}
	out.Result.Metrics = append(out.Result.Metrics, metric{Name: "commits_per_unit", Unit: "commits",
		Value: float64(out.Commits) / float64(out.Result.N)})
}

// measureFsync writes 4 KiB and fsyncs it, over and over for d, in a
// temporary file in dir, and returns the fsyncs per second: the ceiling on
// durable commits one writer can make on that disk.
func measureFsync(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "stent-bench-fsync-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	n := 0
	start := time.Now()
	for time.Since(start) < d || n < 10 {
		buf[0] = byte(n)
		if _, err := f.WriteAt(buf, int64(n%16)*4096); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
