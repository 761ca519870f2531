package app

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Throughput bounds: the rows one answer reads, the buckets it draws and
// the window it covers.
const (
	MaxThroughputRows    = 10_000
	MaxThroughputBuckets = 1440
	MaxThroughputWindow  = 7 * 24 * time.Hour
)

// ThroughputBucket counts the executions that finished in [Start,
// Start+bucket) by state, with the 50th and 95th percentile of their
// dispatch-to-finish latency (created_at to finished_at) in milliseconds
// (nil when none finished).
type ThroughputBucket struct {
	Start     time.Time `json:"start"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
	Cancelled int64     `json:"cancelled"`
	TimedOut  int64     `json:"timed_out"`
	P50Ms     *float64  `json:"p50_ms"`
	P95Ms     *float64  `json:"p95_ms"`
}

// Throughput is the answer of Engine.Throughput: a chart of finished
// executions per bucket over a window ending at the current bucket.
type Throughput struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Window string    `json:"window"`
	Bucket string    `json:"bucket"`
	// Buckets, oldest first; the last one is still filling.
	Buckets []ThroughputBucket `json:"buckets"`
	// Total sums the buckets (Start is From).
	Total ThroughputBucket `json:"total"`
	// Read is how many finished executions were read (at most Limit).
	Read  int `json:"read"`
	Limit int `json:"limit"`
	// Truncated: more than Limit executions finished in the window; only
	// the most recent Limit were counted, so buckets before CompleteFrom
	// undercount.
	Truncated    bool       `json:"truncated"`
	CompleteFrom *time.Time `json:"complete_from,omitempty"`
}

// Throughput counts the executions that finished in the last window per
// bucket, by state, with latency percentiles, from the store's own
// finished_at and created_at (ListFinished): at most MaxThroughputRows
// rows are read, the most recently finished. window must be a positive
// multiple of bucket, bucket at least 1s, at most MaxThroughputBuckets
// buckets and MaxThroughputWindow; else ErrInvalidArgument naming the
// parameter.
func (e *Engine) Throughput(ctx context.Context, window, bucket time.Duration) (Throughput, error) {
	switch {
	case bucket < time.Second:
		return Throughput{}, domain.InvalidArgument("bucket %s is shorter than 1s; want 1s or more", bucket)
	case window < bucket:
		return Throughput{}, domain.InvalidArgument("window %s is shorter than the bucket %s; want window >= bucket", window, bucket)
	case window > MaxThroughputWindow:
		return Throughput{}, domain.InvalidArgument("window %s is longer than %s; want at most 7d", window, MaxThroughputWindow)
	case window%bucket != 0:
		return Throughput{}, domain.InvalidArgument("window %s is not a whole number of buckets of %s; want a multiple of the bucket", window, bucket)
	case window/bucket > MaxThroughputBuckets:
		return Throughput{}, domain.InvalidArgument("window %s holds %d buckets of %s; want at most %d buckets", window, window/bucket, bucket, MaxThroughputBuckets)
	}
	now := e.now()
	to := now.Truncate(bucket).Add(bucket)
	from := to.Add(-window)
	rows, err := e.store.ListFinished(ctx, ports.FinishedFilter{Since: from, Until: to, Limit: MaxThroughputRows + 1})
	if err != nil {
		return Throughput{}, err
	}
	out := Throughput{From: from, To: to, Window: domain.FormatDuration(window), Bucket: domain.FormatDuration(bucket),
		Limit: MaxThroughputRows}
	if len(rows) > MaxThroughputRows {
		rows = rows[:MaxThroughputRows]
		out.Truncated = true
		oldest := rows[len(rows)-1].FinishedAt
		out.CompleteFrom = &oldest
	}
	out.Read = len(rows)
	n := int(window / bucket)
	out.Buckets = make([]ThroughputBucket, n)
	lat := make([][]float64, n)
	var all []float64
	for i := range out.Buckets {
		out.Buckets[i].Start = from.Add(time.Duration(i) * bucket)
	}
	for _, r := range rows {
		i := int(r.FinishedAt.Sub(from) / bucket)
		if i < 0 || i >= n {
			continue
		}
		countState(&out.Buckets[i], r.State)
		countState(&out.Total, r.State)
		ms := float64(r.FinishedAt.Sub(r.CreatedAt)) / float64(time.Millisecond)
		lat[i] = append(lat[i], ms)
		all = append(all, ms)
	}
	for i := range out.Buckets {
		out.Buckets[i].P50Ms, out.Buckets[i].P95Ms = percentile(lat[i], 0.50), percentile(lat[i], 0.95)
	}
	out.Total.Start = from
	out.Total.P50Ms, out.Total.P95Ms = percentile(all, 0.50), percentile(all, 0.95)
	return out, nil
}

func countState(b *ThroughputBucket, st domain.ExecutionState) {
	switch st {
	case domain.ExecutionCompleted:
		b.Completed++
	case domain.ExecutionFailed:
		b.Failed++
	case domain.ExecutionCancelled:
		b.Cancelled++
	case domain.ExecutionTimedOut:
		b.TimedOut++
	}
}

// percentile is the nearest-rank q-quantile of vs (sorted in place), or
// nil for none.
func percentile(vs []float64, q float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	slices.Sort(vs)
	i := int(math.Ceil(q*float64(len(vs)))) - 1
	v := vs[max(i, 0)]
	return &v
}
