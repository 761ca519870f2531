package app

import (
	"context"
	"encoding/json"
	"fmt"

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
	if tr := runFrom(ctx); tr != nil {
		defer tr.enter()()
		raw, err := tr.callStep(ctx, f.def, in)
		if err != nil {
			return zero, err
		}
		return decodeValue[O](fmt.Sprintf("the result of %q", f.def.name), raw)
	}
	if eng := EngineFrom(ctx); eng != nil {
		id, err := f.Dispatch(ctx, eng, in)
		if err != nil {
			return zero, err
		}
		return f.Await(ctx, eng, id)
	}
	return f.fn(ctx, in)
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
	outs := make([]O, len(ins))
	if len(ins) == 0 {
		return outs, nil
	}
	if tr := runFrom(ctx); tr != nil {
		defer tr.enter()()
		first := tr.reserve(len(ins))
		specs := make([]ports.StepSpec, len(ins))
		for i, in := range ins {
			spec, err := tr.activity(f.def, in, first+i)
			if err != nil {
				return nil, err
			}
			specs[i] = spec
		}
		recs, err := tr.ensureSteps(ctx, specs)
		if err != nil {
			return nil, err
		}
		recs, err = tr.awaitRecords(ctx, recs)
		if err != nil {
			return nil, err
		}
		var firstErr error
		for i, rec := range recs {
			raw, err := recordOutcome(rec)
			if err == nil {
				outs[i], err = decodeValue[O](fmt.Sprintf("the result of %q", f.def.name), raw)
			}
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("stent: %s item %d: %w", f.def.name, i, err)
			}
		}
		return outs, firstErr
	}
	if eng := EngineFrom(ctx); eng != nil {
		ids := make([]string, len(ins))
		for i, in := range ins {
			id, err := f.Dispatch(ctx, eng, in)
			if err != nil {
				return nil, err
			}
			ids[i] = id
		}
		var firstErr error
		for i, id := range ids {
			out, err := f.Await(ctx, eng, id)
			outs[i] = out
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("stent: %s item %d: %w", f.def.name, i, err)
			}
		}
		return outs, firstErr
	}
	var firstErr error
	for i, in := range ins {
		out, err := f.fn(ctx, in)
		outs[i] = out
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("stent: %s item %d: %w", f.def.name, i, err)
		}
	}
	return outs, firstErr
}

// Future is the pending result of an Async call.
type Future[O any] struct {
	name string
	err  error
	// in-task mode
	tr  *taskRun
	rec domain.Task
	// engine mode
	eng *Engine
	id  string
	// local mode
	done chan struct{}
	out  O
}

// Async starts a call and returns its future. Inside a task it takes its
// call number at once and creates its step record before returning, so
// fan-out stays deterministic; with an engine attached it dispatches; else
// it runs locally in a goroutine.
func (f *Function[I, O]) Async(ctx context.Context, in I) *Future[O] {
	fut := &Future[O]{name: f.Name()}
	if f.err != nil {
		fut.err = f.err
		return fut
	}
	if tr := runFrom(ctx); tr != nil {
		defer tr.enter()()
		fut.tr = tr
		spec, err := tr.activity(f.def, in, tr.reserve(1))
		if err != nil {
			fut.err = err
			return fut
		}
		recs, err := tr.ensureSteps(ctx, []ports.StepSpec{spec})
		if err != nil {
			fut.err = err
			return fut
		}
		fut.rec = recs[0]
		return fut
	}
	if eng := EngineFrom(ctx); eng != nil {
		fut.eng = eng
		fut.id, fut.err = f.Dispatch(ctx, eng, in)
		return fut
	}
	fut.done = make(chan struct{})
	go func() {
		defer close(fut.done)
		fut.out, fut.err = f.fn(ctx, in)
	}()
	return fut
}

// Get waits for the call's result.
func (fut *Future[O]) Get(ctx context.Context) (O, error) {
	var zero O
	if fut.err != nil {
		return zero, fut.err
	}
	switch {
	case fut.tr != nil:
		defer fut.tr.enter()()
		recs, err := fut.tr.awaitRecords(ctx, []domain.Task{fut.rec})
		if err != nil {
			return zero, err
		}
		fut.rec = recs[0]
		raw, err := recordOutcome(fut.rec)
		if err != nil {
			return zero, err
		}
		return decodeValue[O](fmt.Sprintf("the result of %q", fut.name), raw)
	case fut.eng != nil:
		res, err := fut.eng.WaitFor(ctx, fut.id)
		if err != nil {
			return zero, err
		}
		return resultValue[O](res)
	default:
		select {
		case <-fut.done:
			return fut.out, fut.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// AwaitAll waits for every future and returns their outputs in order, or
// the first failure in order (after all have finished). In-task futures of
// one task are awaited together with one slot release.
func AwaitAll[O any](ctx context.Context, futs ...*Future[O]) ([]O, error) {
	outs := make([]O, len(futs))
	var tr *taskRun
	var recs []domain.Task
	batch := len(futs) > 0
	for _, f := range futs {
		if f.err != nil || f.tr == nil || (tr != nil && f.tr != tr) {
			batch = false
			break
		}
		tr = f.tr
		recs = append(recs, f.rec)
	}
	if batch {
		exit := tr.enter()
		done, err := tr.awaitRecords(ctx, recs)
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
			firstErr = fmt.Errorf("stent: future %d: %w", i, err)
		}
	}
	return outs, firstErr
}

// activity encodes in and builds the spec of call number pos.
func (tr *taskRun) activity(def *funcDef, in any, pos int) (ports.StepSpec, error) {
	input, err := encodeValue(in, tr.e.cfg.MaxPayloadBytes)
	if err != nil {
		return ports.StepSpec{}, err
	}
	return tr.stepSpec(def, input, pos)
}

// callStep is Call inside a running task: a checkpointed child step. When
// this worker may run the function and no record exists yet at this
// position, the body runs inline in this goroutine and its record is
// written once, already completed (see runVirtual); otherwise the step is
// created pending, claimed by any eligible worker, and this task waits with
// its slot given back.
func (tr *taskRun) callStep(ctx context.Context, def *funcDef, in any) (json.RawMessage, error) {
	spec, err := tr.activity(def, in, tr.reserve(1))
	if err != nil {
		return nil, err
	}
	var rec domain.Task
	inline := tr.w.canInline(def)
	if inline {
		fresh, err := tr.positionIsFresh(ctx, spec.Position)
		if err != nil {
			return nil, err
		}
		inline = fresh
	}
	if inline {
		rec, err = tr.runVirtual(ctx, def, spec)
		if err != nil {
			return nil, err
		}
	} else {
		recs, err := tr.ensureSteps(ctx, []ports.StepSpec{spec})
		if err != nil {
			return nil, err
		}
		rec = recs[0]
	}
	recs, err := tr.awaitRecords(ctx, []domain.Task{rec})
	if err != nil {
		return nil, err
	}
	return recordOutcome(recs[0])
}
