package app

import (
	"context"
	"fmt"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// completer batches task completions: every completion queued while the
// previous batch was being written goes into the next transaction. Under
// low load a batch is a single completion written at once (no added
// latency); under load the batch grows up to Config.CompletionBatch.
type completer struct {
	e  *Engine
	ch chan completeReq
}

type completeReq struct {
	p    ports.CompleteParams
	done chan error
}

func newCompleter(e *Engine) *completer {
	return &completer{e: e, ch: make(chan completeReq, e.cfg.CompletionBatch)}
}

// complete queues p and waits for its own outcome (nil or ErrLeaseLost).
func (c *completer) complete(ctx context.Context, p ports.CompleteParams) error {
	req := completeReq{p: p, done: make(chan error, 1)}
	select {
	case c.ch <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *completer) run(ctx context.Context) {
	max := c.e.cfg.CompletionBatch
	batch := make([]completeReq, 0, max)
	params := make([]ports.CompleteParams, 0, max)
	for {
		select {
		case <-ctx.Done():
			c.drainClosed()
			return
		case r := <-c.ch:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < max {
			select {
			case r := <-c.ch:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		params = params[:0]
		for _, r := range batch {
			params = append(params, r.p)
		}
		res, err := c.e.store.CompleteTasks(context.WithoutCancel(ctx), params)
		for i, r := range batch {
			switch {
			case err != nil:
				r.done <- err
			case i < len(res):
				r.done <- res[i].Err
			default:
				r.done <- fmt.Errorf("stent: completer: store returned %d results for %d completions", len(res), len(batch))
			}
		}
		if err == nil {
			c.e.publishWoken(ctx, res)
		}
	}
}

// drainClosed answers queued completions after the engine closed.
func (c *completer) drainClosed() {
	for {
		select {
		case r := <-c.ch:
			r.done <- ErrClosed
		default:
			return
		}
	}
}

// publishWoken sends a ready hint for every parked task the completions
// woke, once per (queue, function).
func (e *Engine) publishWoken(ctx context.Context, res []ports.CompleteResult) {
	var evs []domain.Event
	seen := map[[2]string]bool{}
	for _, r := range res {
		for _, w := range r.Woken {
			k := [2]string{w.Queue, w.StepName}
			if !seen[k] {
				seen[k] = true
				evs = append(evs, readyEvent(w.Queue, w.StepName))
			}
		}
	}
	e.publish(ctx, evs...)
}
