package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
)

// Dispatch starts an execution of the function with input in and returns
// its id. The execution and its root task are written in one transaction.
// Routing (queue, tags, priority) comes from the registration unless an
// option overrides it. A reused WithIdempotencyKey or WithExecutionID
// returns the first execution's id.
func (f *Function[I, O]) Dispatch(ctx context.Context, eng *Engine, in I, opts ...DispatchOption) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if eng == nil {
		return "", domain.InvalidArgument("dispatch %q: nil engine", f.def.name)
	}
	input, err := encodeValue(in, eng.cfg.MaxPayloadBytes)
	if err != nil {
		return "", fmt.Errorf("stent: dispatch %q: %w", f.def.name, err)
	}
	return eng.dispatch(ctx, f.def.name, f.def.info(), input, opts)
}

// Await waits for execution id and decodes its result into O; a failed,
// timed-out or cancelled execution returns its error.
func (f *Function[I, O]) Await(ctx context.Context, eng *Engine, id string, opts ...WaitOption) (O, error) {
	var zero O
	if eng == nil {
		return zero, domain.InvalidArgument("await %q: nil engine", id)
	}
	res, err := eng.WaitFor(ctx, id, opts...)
	if err != nil {
		return zero, err
	}
	return resultValue[O](res)
}

func resultValue[O any](res domain.Result) (O, error) {
	if err := res.Err(); err != nil {
		var zero O
		return zero, err
	}
	return decodeValue[O](fmt.Sprintf("the result of execution %q", res.ExecutionID), res.Value)
}

// DispatchByName starts an execution of the function called name with an
// encoded JSON input. The name is checked against this engine's registry,
// then against the function catalogue that workers publish, so a client
// that does not register the function can still dispatch it; an unknown
// name is an *UnregisteredFunctionError listing the known names.
func (e *Engine) DispatchByName(ctx context.Context, name string, input json.RawMessage, opts ...DispatchOption) (string, error) {
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if !json.Valid(input) {
		return "", domain.InvalidArgument("dispatch %q: input is not valid JSON", name)
	}
	if len(input) > e.cfg.MaxPayloadBytes {
		return "", fmt.Errorf("stent: dispatch %q: %w: input is %d bytes; the limit is %d", name, ErrPayloadTooLarge, len(input), e.cfg.MaxPayloadBytes)
	}
	if def, err := e.reg.lookup(name); err == nil {
		return e.dispatch(ctx, name, def.info(), input, opts)
	}
	fns, err := e.store.ListFunctions(ctx)
	if err != nil {
		return "", fmt.Errorf("stent: dispatch %q: reading the function catalogue: %w", name, err)
	}
	known := e.reg.Names()
	for _, fi := range fns {
		if fi.Name == name {
			return e.dispatch(ctx, name, fi, input, opts)
		}
		if !slices.Contains(known, fi.Name) {
			known = append(known, fi.Name)
		}
	}
	slices.Sort(known)
	return "", &UnregisteredFunctionError{Name: name, Registered: known}
}

func (e *Engine) dispatch(ctx context.Context, name string, fi domain.FunctionInfo, input json.RawMessage, opts []DispatchOption) (string, error) {
	if err := e.checkOpen(); err != nil {
		return "", err
	}
	var o dispatchOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyDispatch(&o)
		}
	}
	if len(o.errs) > 0 {
		return "", fmt.Errorf("stent: dispatch %q: %w", name, errors.Join(o.errs...))
	}
	r := routing{queue: &fi.Queue, tags: fi.Tags, tagsSet: true, priority: &fi.Priority}
	r.merge(o.routing)
	queue := *r.queue
	if queue == "" {
		queue = domain.DefaultQueue
	}
	if err := domain.ValidateName("queue", queue); err != nil {
		return "", fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	for _, t := range r.tags {
		if err := domain.ValidateName("tag", t); err != nil {
			return "", fmt.Errorf("stent: dispatch %q: %w", name, err)
		}
	}
	id := o.executionID
	if id == "" {
		id = domain.NewID()
	} else if err := domain.ValidateName("execution id", id); err != nil {
		return "", fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	if o.idempotencyKey != "" {
		if err := domain.ValidateName("idempotency key", o.idempotencyKey); err != nil {
			return "", fmt.Errorf("stent: dispatch %q: %w", name, err)
		}
	}
	now := e.now()
	start := now
	var scheduled *time.Time
	switch {
	case o.delay != nil && *o.delay > 0:
		t := now.Add(*o.delay)
		scheduled = &t
	case o.runAt != nil:
		t := domain.NormalizeTime(*o.runAt)
		scheduled = &t
	}
	if scheduled != nil && scheduled.After(now) {
		start = *scheduled
	}
	var deadline *time.Time
	if o.maxDuration != nil && *o.maxDuration > 0 {
		t := start.Add(*o.maxDuration)
		deadline = &t
	}
	policy := fi.RetryPolicy
	if policy.MaxAttempts == 0 {
		policy = policy.Normalize()
	}
	ctx, carrier, end := e.tracing.startDispatch(ctx, name, id, queue)
	exec := domain.Execution{
		ID: id, RootFunction: name, State: domain.ExecutionPending, Input: input,
		IdempotencyKey: o.idempotencyKey, Tags: slices.Clone(r.tags), Priority: *r.priority, Queue: queue,
		ScheduledFor: scheduled, Deadline: deadline, CreatedAt: now, UpdatedAt: now,
	}
	root := domain.Task{
		ID: domain.NewID(), ExecutionID: id, Kind: domain.KindOrchestrator, StepName: name,
		State: domain.TaskPending, Input: input, RetryPolicy: policy, MaxConcurrent: fi.MaxConcurrent,
		Tags: exec.Tags, Priority: exec.Priority, Queue: queue, ScheduledFor: scheduled,
		Deadline: deadline, TraceContext: carrier, CreatedAt: now, UpdatedAt: now,
	}
	exec.RootTaskID = root.ID
	got, created, err := e.store.CreateExecution(ctx, exec, root)
	end(got, err)
	if err != nil {
		return "", fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	if created {
		if scheduled == nil || !scheduled.After(now) {
			e.publish(ctx, readyEvent(queue, name))
		} else {
			e.noteDue(*scheduled)
		}
		e.log.DebugContext(ctx, "dispatched", "execution_id", got, "function", name, "queue", queue)
	}
	return got, nil
}
