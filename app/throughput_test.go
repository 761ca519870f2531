package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// finishAt stores an execution created at created and cancelled at
// finished (a terminal execution with both times).
func finishAt(t *testing.T, st ports.Store, created, finished time.Time) {
	t.Helper()
	ctx := context.Background()
	id := domain.NewID()
	exec := domain.Execution{ID: id, RootFunction: "f", RootTaskID: id + "-root", CreatedAt: created, UpdatedAt: created}
	root := domain.Task{ID: id + "-root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "f", CreatedAt: created, UpdatedAt: created}
	if _, _, err := ports.CreateExecution(ctx, st, exec, root); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CancelExecution(ctx, id, finished); err != nil {
		t.Fatal(err)
	}
}

func TestThroughputBucketsAndPercentiles(t *testing.T) {
	now := time.Date(2031, time.May, 1, 12, 30, 20, 0, time.UTC)
	st := memstore.New()
	eng, err := app.New(app.Deps{Store: st, Registry: app.NewRegistry(), Clock: clock.NewFake(now)}, app.Config{ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// Bucket 12:29 (the one before now's): latencies 1..10 s; bucket
	// 12:30 (now's): one of 100 ms; one finished before the window.
	for i := 1; i <= 10; i++ {
		fin := time.Date(2031, time.May, 1, 12, 29, i, 0, time.UTC)
		finishAt(t, st, fin.Add(-time.Duration(i)*time.Second), fin)
	}
	fin := time.Date(2031, time.May, 1, 12, 30, 5, 0, time.UTC)
	finishAt(t, st, fin.Add(-100*time.Millisecond), fin)
	finishAt(t, st, now.Add(-time.Hour), now.Add(-10*time.Minute)) // 12:20:20: outside 5m

	got, err := eng.Throughput(context.Background(), 5*time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantFrom := time.Date(2031, time.May, 1, 12, 26, 0, 0, time.UTC)
	if !got.From.Equal(wantFrom) || !got.To.Equal(wantFrom.Add(5*time.Minute)) || len(got.Buckets) != 5 {
		t.Fatalf("window %s..%s with %d buckets; want 12:26..12:31 with 5", got.From, got.To, len(got.Buckets))
	}
	b := got.Buckets[3]
	if b.Cancelled != 10 || *b.P50Ms != 5000 || *b.P95Ms != 10000 {
		t.Fatalf("bucket 12:29 = %d cancelled, p50 %v, p95 %v; want 10, 5000, 10000 (nearest rank)", b.Cancelled, *b.P50Ms, *b.P95Ms)
	}
	if b := got.Buckets[4]; b.Cancelled != 1 || *b.P50Ms != 100 || *b.P95Ms != 100 {
		t.Fatalf("bucket 12:30 = %+v; want 1 cancelled at 100 ms", b)
	}
	if b := got.Buckets[0]; b.Cancelled != 0 || b.P50Ms != nil || b.P95Ms != nil {
		t.Fatalf("empty bucket = %+v; want no counts and null percentiles", b)
	}
	if got.Total.Cancelled != 11 || got.Read != 11 || got.Truncated || got.CompleteFrom != nil {
		t.Fatalf("total %+v read %d truncated %v; want 11 read, not truncated", got.Total, got.Read, got.Truncated)
	}

	for _, tc := range []struct{ window, bucket time.Duration }{
		{time.Hour, 0}, {time.Hour, 7 * time.Minute}, {8 * 24 * time.Hour, time.Hour}, {24 * time.Hour, time.Second}, {time.Second, time.Minute},
	} {
		if _, err := eng.Throughput(context.Background(), tc.window, tc.bucket); !errors.Is(err, domain.ErrInvalidArgument) {
			t.Errorf("Throughput(%s, %s) = %v; want ErrInvalidArgument", tc.window, tc.bucket, err)
		}
	}
}

func TestThroughputReadsAtMostTheLimit(t *testing.T) {
	now := time.Date(2031, time.May, 1, 12, 30, 20, 0, time.UTC)
	st := memstore.New()
	eng, err := app.New(app.Deps{Store: st, Registry: app.NewRegistry(), Clock: clock.NewFake(now)}, app.Config{ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// The limit + 5 finished executions, one per 10 ms ending at now: the
	// 5 oldest are left out.
	n := app.MaxThroughputRows + 5
	start := now.Add(-time.Duration(n) * 10 * time.Millisecond)
	for i := range n {
		fin := start.Add(time.Duration(i+1) * 10 * time.Millisecond)
		finishAt(t, st, fin.Add(-time.Millisecond), fin)
	}
	got, err := eng.Throughput(context.Background(), time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	oldestCounted := start.Add(6 * 10 * time.Millisecond)
	if !got.Truncated || got.Read != app.MaxThroughputRows || got.Total.Cancelled != int64(app.MaxThroughputRows) ||
		got.CompleteFrom == nil || !got.CompleteFrom.Equal(oldestCounted) {
		t.Fatalf("truncated %v, read %d, total %d, complete from %v; want true, %d, %d, %s",
			got.Truncated, got.Read, got.Total.Cancelled, got.CompleteFrom, app.MaxThroughputRows, app.MaxThroughputRows, oldestCounted)
	}
}
