package app

import (
	"context"
	"fmt"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Call calls the function in one of three modes (see the package doc):
// inside a running task it is a checkpointed child step; with an engine
// attached to ctx (WithEngine) it dispatches an execution and waits for it;
// otherwise it runs the function locally.
func (f *Function[I, O]) Call(ctx context.Context, in I) (O, error) {
	var zero O
	if f.err != nil {
		return zero, f.err
	}
	futs, err := f.start(ctx, []I{in}, callOne)
	if err != nil {
		return zero, err
	}
	return futs[0].Get(ctx)
}

// Map calls the function once per input and returns the outputs in input
// order. Inside a task the calls are consecutive checkpointed steps created
// in one write and run concurrently by the workers; the task gives its slot
// back while it waits for them all. If any call fails, Map returns the
// first failure in input order (after every call has finished).
func (f *Function[I, O]) Map(ctx context.Context, ins []I) ([]O, error) {
	if f.err != nil {
		return nil, f.err
	}
	if len(ins) == 0 {
		return make([]O, 0), nil
	}
	futs, err := f.start(ctx, ins, callMany)
	if err != nil {
		return nil, err
	}
	return awaitFutures(ctx, futs, func(i int, err error) error {
		return fmt.Errorf("stent: %s item %d: %w", f.def.Name, i, err)
	})
}

// Future is the pending result of an Async call.
type Future[O any] struct {
	err error // the call could not start
	// in-task mode: the step's record, awaited together by AwaitAll
	run *run.Run
	rec domain.Task
	// get waits for the result in the future's mode.
	get func(ctx context.Context) (O, error)
}

// Async starts a call and returns its future. Inside a task it takes its
// call number at once and creates its step record before returning, so
// fan-out stays deterministic; with an engine attached it dispatches; else
// it runs locally in a goroutine.
func (f *Function[I, O]) Async(ctx context.Context, in I) *Future[O] {
	if f.err != nil {
		return &Future[O]{err: f.err}
	}
	futs, err := f.start(ctx, []I{in}, callAsync)
	if err != nil {
		return &Future[O]{err: err}
	}
	return futs[0]
}

// Get waits for the call's result.
func (fut *Future[O]) Get(ctx context.Context) (O, error) {
	if fut.err != nil {
		var zero O
		return zero, fut.err
	}
	return fut.get(ctx)
}

// AwaitAll waits for every future and returns their outputs in order, or
// the first failure in order (after all have finished). In-task futures of
// one task are awaited together with one slot release.
func AwaitAll[O any](ctx context.Context, futs ...*Future[O]) ([]O, error) {
	return awaitFutures(ctx, futs, func(i int, err error) error {
		return fmt.Errorf("stent: future %d: %w", i, err)
	})
}

// awaitFutures waits for futs (in-task futures of one run together, with
// one slot release) and returns their outputs in order, and the first
// failure in order, wrapped by wrap.
func awaitFutures[O any](ctx context.Context, futs []*Future[O], wrap func(i int, err error) error) ([]O, error) {
	outs := make([]O, len(futs))
	var r *run.Run
	var recs []domain.Task
	together := len(futs) > 0
	for _, f := range futs {
		if f.err != nil || f.run == nil || (r != nil && f.run != r) {
			together = false
			break
		}
		r = f.run
		recs = append(recs, f.rec)
	}
	if together {
		exit := r.Enter()
		done, err := r.Await(ctx, recs)
		exit()
		if err != nil {
			return nil, err
		}
		for i := range futs {
			futs[i].rec = done[i]
		}
	}
	var firstErr error
	for i, f := range futs {
		out, err := f.Get(ctx)
		outs[i] = out
		if err != nil && firstErr == nil {
			firstErr = wrap(i, err)
		}
	}
	return outs, firstErr
}

// callKind is how start issues its calls.
type callKind int

const (
	callOne   callKind = iota // one sequential call (Call): may run inline
	callMany                  // a fan-out awaited together (Map)
	callAsync                 // a call awaited later (Async)
)

// start starts calls of f with ins and returns their futures in input
// order. This is the one place the three modes of the package doc are
// told apart:
//
//  1. in a running task, each call is a checkpointed step (Call's may run
//     inline; the others' records are created in one write);
//  2. with an engine attached to ctx, each call dispatches an execution;
//  3. otherwise the function runs locally: at once, or in a goroutine for
//     Async.
func (f *Function[I, O]) start(ctx context.Context, ins []I, kind callKind) ([]*Future[O], error) {
	futs := make([]*Future[O], len(ins))
	what := fmt.Sprintf("the result of %q", f.def.Name)
	if r := run.From(ctx); r != nil {
		defer r.Enter()()
		if kind == callOne {
			raw, err := r.Call(ctx, f.def, ins[0])
			if err != nil {
				return nil, err
			}
			out, err := durable.Decode[O](what, raw)
			return []*Future[O]{resolved(out, err)}, nil
		}
		first := r.Reserve(len(ins))
		specs := make([]ports.StepSpec, len(ins))
		for i, in := range ins {
			spec, err := r.Activity(f.def, in, first+i)
			if err != nil {
				return nil, err
			}
			specs[i] = spec
		}
		recs, err := r.EnsureSteps(ctx, specs)
		if err != nil {
			return nil, err
		}
		for i := range futs {
			fut := &Future[O]{run: r, rec: recs[i]}
			fut.get = func(ctx context.Context) (O, error) {
				var zero O
				defer r.Enter()()
				recs, err := r.Await(ctx, []domain.Task{fut.rec})
				if err != nil {
					return zero, err
				}
				fut.rec = recs[0]
				raw, err := run.Outcome(fut.rec)
				if err != nil {
					return zero, err
				}
				return durable.Decode[O](what, raw)
			}
			futs[i] = fut
		}
		return futs, nil
	}
	if eng := EngineFrom(ctx); eng != nil {
		for i, in := range ins {
			id, err := f.Dispatch(ctx, eng, in)
			if err != nil {
				return nil, err
			}
			futs[i] = &Future[O]{get: func(ctx context.Context) (O, error) {
				return f.Await(ctx, eng, id)
			}}
		}
		return futs, nil
	}
	for i, in := range ins {
		if kind != callAsync {
			out, err := f.fn(ctx, in)
			futs[i] = resolved(out, err)
			continue
		}
		done := make(chan struct{})
		var out O
		var err error
		go func() {
			defer close(done)
			out, err = f.fn(ctx, in)
		}()
		futs[i] = &Future[O]{get: func(ctx context.Context) (O, error) {
			select {
			case <-done:
				return out, err
			case <-ctx.Done():
				var zero O
				return zero, ctx.Err()
			}
		}}
	}
	return futs, nil
}

// resolved is a future whose result is known.
func resolved[O any](out O, err error) *Future[O] {
	return &Future[O]{get: func(context.Context) (O, error) { return out, err }}
}
