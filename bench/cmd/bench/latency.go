package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// sample is one execution of the latency workload.
type sample struct {
	Result time.Duration // dispatch -> result seen by the waiting client
	Start  time.Duration // dispatch -> task start (0 when unknown)
	Err    error
}

// fireFunc dispatches one no-op unit at the scheduled time and waits for
// its result. It returns the unit's start time as the function body saw
// it (zero when the system does not report it).
type fireFunc func(ctx context.Context, i int) (started time.Time, err error)

// offeredLoad fires rate units per second for d, each in its own goroutine
// (a slow dispatch does not delay the next one: the offered rate is
// steady), and returns one sample per unit.
func offeredLoad(ctx context.Context, rate int, d time.Duration, fire fireFunc) []sample {
	n := int(math.Round(float64(rate) * d.Seconds()))
	interval := time.Second / time.Duration(rate)
	samples := make([]sample, n)
	var wg sync.WaitGroup
	t0 := time.Now().Add(20 * time.Millisecond)
	for i := range n {
		at := t0.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				samples = samples[:i]
				wg.Wait()
				return samples
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			begin := time.Now()
			started, err := fire(ctx, i)
			end := time.Now()
			s := sample{Result: end.Sub(begin), Err: err}
			if !started.IsZero() {
				s.Start = started.Sub(begin)
			}
			samples[i] = s
		}()
	}
	wg.Wait()
	return samples
}

// latencyMetrics turns samples into p50/p95/p99 metrics (milliseconds).
// Failed units are counted; if more than 1% failed the run fails.
func latencyMetrics(samples []sample, withStart bool) ([]metric, error) {
	var res, st []float64
	failed := 0
	var firstErr error
	for _, s := range samples {
		if s.Err != nil {
			failed++
			if firstErr == nil {
				firstErr = s.Err
			}
			continue
		}
		res = append(res, ms(s.Result))
		if withStart {
			st = append(st, ms(s.Start))
		}
	}
	if len(res) == 0 || failed*100 > len(samples) {
		return nil, fmt.Errorf("%d of %d units failed; first: %v", failed, len(samples), firstErr)
	}
	ms := []metric{
		{Name: "p50", Unit: "ms", Value: percentile(res, 50)},
		{Name: "p95", Unit: "ms", Value: percentile(res, 95)},
		{Name: "p99", Unit: "ms", Value: percentile(res, 99)},
	}
	if withStart {
		ms = append(ms,
			metric{Name: "start_p50", Unit: "ms", Value: percentile(st, 50)},
			metric{Name: "start_p95", Unit: "ms", Value: percentile(st, 95)},
			metric{Name: "start_p99", Unit: "ms", Value: percentile(st, 99)})
	}
	ms = append(ms, metric{Name: "failed", Unit: "units", Value: float64(failed)})
	return ms, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank percentile of xs (which it sorts): the
// smallest value with at least p% of the values at or below it, that is
// the value of rank ceil(p/100 * n) (1-based), never interpolated. A tiny
// tolerance keeps float rounding from pushing an exact rank one up
// (99.9/100 * 1000 is 999.0000000000001 in float64).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	k := int(math.Ceil(p/100*float64(len(xs))-1e-9)) - 1
	return xs[min(max(k, 0), len(xs)-1)]
}

// median, minimum and maximum of the runs' values.
func summarize(xs []float64) (med, lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// waitCount polls count() every interval until it reaches want or ctx ends.
func waitCount(ctx context.Context, want int64, interval time.Duration, count func(context.Context) (int64, error)) error {
	for {
		n, err := count(ctx)
		if err == nil && n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d finished units (last count %d, err %v): %w", want, n, err, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// throughputMetrics are the W1/W2/W5 metrics of a timed phase of n units.
func throughputMetrics(n int, unit string, elapsed, insert time.Duration) []metric {
	m := []metric{
		{Name: "throughput", Unit: unit + "/s", Value: float64(n) / elapsed.Seconds(), HigherIsBetter: true},
		{Name: "elapsed", Unit: "s", Value: elapsed.Seconds()},
	}
	if insert > 0 {
		m = append(m, metric{Name: "insert_rate", Unit: unit + "/s", Value: float64(n) / insert.Seconds(), HigherIsBetter: true})
	}
	return m
}
