package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/stenthq/stent/ports"
)

// stepWriter batches step creation across tasks: every CreateSteps request
// queued while a batch is being written goes into the next transaction
// (CreateStepsBatch), like the completer does for completions. Under low
// load a batch is one request written at once; under load hundreds of
// workflows' steps share a commit.
type stepWriter struct {
	e  *Engine
	ch chan stepReq
}

type stepReq struct {
	r    ports.CreateStepsRequest
	done chan ports.CreateStepsResult
}

func newStepWriter(e *Engine) *stepWriter {
	return &stepWriter{e: e, ch: make(chan stepReq, e.cfg.StepBatch)}
}

// create queues r and waits for its own result.
func (w *stepWriter) create(ctx context.Context, r ports.CreateStepsRequest) ports.CreateStepsResult {
	req := stepReq{r: r, done: make(chan ports.CreateStepsResult, 1)}
	select {
	case w.ch <- req:
	case <-ctx.Done():
		return ports.CreateStepsResult{Err: ctx.Err()}
	}
	select {
	case res := <-req.done:
		return res
	case <-ctx.Done():
		return ports.CreateStepsResult{Err: ctx.Err()}
	}
}

func (w *stepWriter) run(ctx context.Context) {
	max := w.e.cfg.StepBatch
	batch := make([]stepReq, 0, max)
	reqs := make([]ports.CreateStepsRequest, 0, max)
	for {
		select {
		case <-ctx.Done():
			w.drainClosed()
			return
		case r := <-w.ch:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < max {
			select {
			case r := <-w.ch:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		reqs = reqs[:0]
		for _, r := range batch {
			reqs = append(reqs, r.r)
		}
		wctx := context.WithoutCancel(ctx)
		if len(batch) == 1 {
			r := batch[0].r
			tasks, err := ports.CreateSteps(wctx, w.e.store, r.Parent, r.Specs, r.Ops, r.Now)
			batch[0].done <- ports.CreateStepsResult{Tasks: tasks, Err: err}
			continue
		}
		res, err := w.e.store.CreateStepsBatch(wctx, reqs)
		if err != nil && (errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrConflict)) {
			// One bad request fails the whole batch: write each on its own
			// so only that one gets the error.
			for _, r := range batch {
				tasks, err := ports.CreateSteps(wctx, w.e.store, r.r.Parent, r.r.Specs, r.r.Ops, r.r.Now)
				r.done <- ports.CreateStepsResult{Tasks: tasks, Err: err}
			}
			continue
		}
		for i, r := range batch {
			switch {
			case err != nil:
				r.done <- ports.CreateStepsResult{Err: err}
			case i < len(res):
				r.done <- res[i]
			default:
				r.done <- ports.CreateStepsResult{Err: fmt.Errorf("stent: step writer: store returned %d results for %d requests", len(res), len(batch))}
			}
		}
	}
}

// drainClosed answers queued requests after the engine closed.
func (w *stepWriter) drainClosed() {
	for {
		select {
		case r := <-w.ch:
			r.done <- ports.CreateStepsResult{Err: ErrClosed}
		default:
			return
		}
	}
}
