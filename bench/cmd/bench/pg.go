package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgPoolMaxConns is the client pool size every system gets on PostgreSQL
// (DBOS's own default; pgxpool's default would be max(4, CPUs)).
const pgPoolMaxConns = 20

// environment records what the numbers were measured on.
type environment struct {
	PGVersion  string        `json:"pg_version"`
	SyncCommit string        `json:"synchronous_commit"`
	SharedBuf  string        `json:"shared_buffers"`
	CPUs       int           `json:"cpus"`
	GoVersion  string        `json:"go_version"`
	Date       time.Time     `json:"date"`
	Quick      bool          `json:"quick"`
	Latency    bool          `json:"latency"`
	Runs       int           `json:"runs"`
	Sizes      sizes         `json:"sizes"`
	Total      time.Duration `json:"total_ns"`
	// LoadStart and LoadEnd are the machine's load averages (1, 5, 15
	// minutes) as the bench began and ended: on a shared machine other
	// work skews every figure.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
	// Fsync is the measured fsync rate of the results disk (and of the
	// temporary directory when it is another filesystem).
	Fsync []fsyncProbe `json:"fsync"`
}

// loadAverage is the first three fields of /proc/loadavg ("" elsewhere).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// probeEnvironment checks the PostgreSQL server answers and records its
// version and synchronous_commit (which must be on: the issue measures
// durable commits).
func probeEnvironment(ctx context.Context, adminDSN string) (environment, error) {
	env := environment{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Truncate(time.Second),
		LoadStart: loadAverage()}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, adminDSN)
	if err != nil {
		return env, fmt.Errorf("PostgreSQL at %s: %w (set -pg or STENT_BENCH_POSTGRES_DSN)", maskDSN(adminDSN), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(cctx, "SHOW server_version").Scan(&env.PGVersion); err != nil {
		return env, err
	}
	if err := conn.QueryRow(cctx, "SHOW synchronous_commit").Scan(&env.SyncCommit); err != nil {
		return env, err
	}
	if err := conn.QueryRow(cctx, "SHOW shared_buffers").Scan(&env.SharedBuf); err != nil {
		return env, err
	}
	if env.SyncCommit != "on" {
		return env, fmt.Errorf("PostgreSQL synchronous_commit is %q; the bench measures durable commits and needs it on", env.SyncCommit)
	}
	return env, nil
}

// database is a fresh database made for one run.
type database struct {
	Name string
	DSN  string // with pool_max_conns
}

// createDatabase creates stent_bench_<random> on the server of adminDSN.
func createDatabase(ctx context.Context, adminDSN string) (database, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "stent_bench_" + hex.EncodeToString(b[:])
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, adminDSN)
	if err != nil {
		return database{}, fmt.Errorf("create database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return database{}, fmt.Errorf("create database %s: %w", name, err)
	}
	dsn, err := withDatabase(adminDSN, name)
	if err != nil {
		return database{}, err
	}
	return database{Name: name, DSN: dsn}, nil
}

// dropDatabase drops a run's database, closing any connection left over.
func dropDatabase(ctx context.Context, adminDSN, name string) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, adminDSN)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, _ = conn.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// withDatabase returns adminDSN (a postgres:// URL) naming database name,
// with the bench's pool size.
func withDatabase(adminDSN, name string) (string, error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("PostgreSQL DSN %q: want a postgres:// URL", maskDSN(adminDSN))
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(pgPoolMaxConns))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withoutPoolParams strips pgxpool-only parameters (for a plain pgx.Connect).
func withoutPoolParams(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func maskDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
