// Package batch is the engine's one batching loop: requests queued while
// the previous batch was being written go into the next write. Under low
// load a batch is one request written at once (no added latency); under
// load it grows up to the writer's cap. The completions and the step
// creations of all runs of an engine are written this way.
package batch

import (
	"context"

	"github.com/stenthq/stent/domain"
)

// Writer batches requests of type Q answered with results of type R.
type Writer[Q, R any] struct {
	ch    chan request[Q, R]
	max   int
	write func(ctx context.Context, batch []Q) []R
	fail  func(err error) R
}

type request[Q, R any] struct {
	q    Q
	done chan R
}

// New returns a writer of batches of up to max requests. write writes one
// batch and returns one result per request, in order; fail turns an error
// (the caller's context ended, the writer stopped) into a result.
func New[Q, R any](max int, write func(ctx context.Context, batch []Q) []R, fail func(err error) R) *Writer[Q, R] {
	return &Writer[Q, R]{ch: make(chan request[Q, R], max), max: max, write: write, fail: fail}
}

// Do queues q and waits for its own result.
func (w *Writer[Q, R]) Do(ctx context.Context, q Q) R {
	req := request[Q, R]{q: q, done: make(chan R, 1)}
	select {
	case w.ch <- req:
	case <-ctx.Done():
		return w.fail(ctx.Err())
	}
	select {
	case r := <-req.done:
		return r
	case <-ctx.Done():
		return w.fail(ctx.Err())
	}
}

// Run writes batches until ctx ends, then answers the queued requests with
// ErrClosed. Several Runs of one writer write batches in parallel.
func (w *Writer[Q, R]) Run(ctx context.Context) {
	reqs := make([]request[Q, R], 0, w.max)
	qs := make([]Q, 0, w.max)
	for {
		select {
		case <-ctx.Done():
			w.drainClosed()
			return
		case r := <-w.ch:
			reqs = append(reqs[:0], r)
		}
	fill:
		for len(reqs) < w.max {
			select {
			case r := <-w.ch:
				reqs = append(reqs, r)
			default:
				break fill
			}
		}
		qs = qs[:0]
		for _, r := range reqs {
			qs = append(qs, r.q)
		}
		res := w.write(context.WithoutCancel(ctx), qs)
		for i, r := range reqs {
			r.done <- res[i]
		}
	}
}

func (w *Writer[Q, R]) drainClosed() {
	for {
		select {
		case r := <-w.ch:
			r.done <- w.fail(domain.ErrClosed)
		default:
			return
		}
	}
}
