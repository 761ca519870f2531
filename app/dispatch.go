package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
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
		return "", domain.InvalidArgument("dispatch %q: nil engine", f.def.Name)
	}
	fi, err := eng.known(ctx, f.def.Name, f.def)
	if err != nil {
		return "", err
	}
	input, err := durable.Encode(in, eng.cfg.MaxPayloadBytes)
	if err != nil {
		return "", fmt.Errorf("stent: dispatch %q: %w", f.def.Name, err)
	}
	return eng.dispatch(ctx, f.def.Name, fi, input, opts)
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
	return durable.Decode[O](fmt.Sprintf("the result of execution %q", res.ExecutionID), res.Value)
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
	fi, err := e.known(ctx, name, nil)
	if err != nil {
		return "", err
	}
	return e.dispatch(ctx, name, fi, input, opts)
}

// known is the one registry check of every dispatch, typed or by name: it
// returns the catalogue entry of the function called name, from this
// engine's registry, else from the catalogue that workers publish (so a
// client that does not register a function can still dispatch it). A
// typed handle (def != nil) must be the function the registry holds under
// that name: a handle from another registry with another body under the
// same name is unknown. An unknown function is an
// *UnregisteredFunctionError (ErrUnregisteredFunction) listing the known
// names; nothing is written.
func (e *Engine) known(ctx context.Context, name string, def *durable.Func) (domain.FunctionInfo, error) {
	if err := e.checkOpen(); err != nil {
		return domain.FunctionInfo{}, err
	}
	mine, err := e.reg.lookup(name)
	if err == nil {
		if def == nil || def.Same(mine) {
			return mine.Info(), nil
		}
		return domain.FunctionInfo{}, &UnregisteredFunctionError{Name: name, Registered: e.reg.Names(), Other: true}
	}
	fns, err := e.store.ListFunctions(ctx)
	if err != nil {
		return domain.FunctionInfo{}, fmt.Errorf("stent: dispatch %q: reading the function catalogue: %w", name, err)
	}
	known := e.reg.Names()
	for _, fi := range fns {
		if fi.Name == name {
			return fi, nil
		}
		if !slices.Contains(known, fi.Name) {
			known = append(known, fi.Name)
		}
	}
	slices.Sort(known)
	return domain.FunctionInfo{}, &UnregisteredFunctionError{Name: name, Registered: known}
}

func (e *Engine) dispatch(ctx context.Context, name string, fi domain.FunctionInfo, input json.RawMessage, opts []DispatchOption) (string, error) {
	id, _, err := e.dispatchCreated(ctx, name, fi, input, opts)
	return id, err
}

// dispatchCreated is dispatch, also telling whether the execution was
// created (false: an execution of that id or idempotency key existed).
func (e *Engine) dispatchCreated(ctx context.Context, name string, fi domain.FunctionInfo, input json.RawMessage, opts []DispatchOption) (string, bool, error) {
	if err := e.checkOpen(); err != nil {
		return "", false, err
	}
	o, err := dispatchOpts(name, opts)
	if err != nil {
		return "", false, err
	}
	p, err := e.plan(name, fi, input, o, e.now())
	if err != nil {
		return "", false, err
	}
	ctx, carrier, end := e.tracing.startDispatch(ctx, name, p.exec.ID, p.exec.Queue)
	p.root.TraceContext = carrier
	res, err := e.store.CreateExecutions(ctx, []ports.NewExecution{{Execution: p.exec, Root: p.root}})
	if err == nil && len(res) != 1 {
		err = fmt.Errorf("the store returned %d results for 1 item", len(res))
	}
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		end("", err)
		return "", false, fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	got, outcome := res[0].ID, res[0].Outcome
	end(got, nil)
	if outcome == "" { // a store that predates outcomes
		outcome = DispatchExisting
		if res[0].Created {
			outcome = DispatchCreated
		}
	}
	switch outcome {
	case DispatchCreated:
		e.announceDispatch(ctx, name, []plan{p})
		e.log.DebugContext(ctx, "dispatched", "execution_id", got, "function", name, "queue", p.exec.Queue)
	case DispatchDebounced:
		if s := p.exec.ScheduledFor; s != nil {
			e.noteDue(*s)
		}
		e.log.DebugContext(ctx, "dispatch debounced", "execution_id", got, "function", name, "debounce_key", p.exec.DebounceKey)
	case DispatchJoined:
		e.log.DebugContext(ctx, "dispatch joined a live singleton", "execution_id", got, "function", name, "singleton_key", p.exec.SingletonKey)
	}
	if o.report != nil {
		*o.report = DispatchInfo{ExecutionID: got, Outcome: outcome}
	}
	return got, outcome == DispatchCreated, nil
}

// DispatchMany starts one execution per input, all written in one
// transaction, and returns their ids in input order: the fast way to
// enqueue a batch. The options apply to every execution;
// WithExecutionID and WithIdempotencyKey name a single execution and are
// refused.
func (f *Function[I, O]) DispatchMany(ctx context.Context, eng *Engine, ins []I, opts ...DispatchOption) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	if eng == nil {
		return nil, domain.InvalidArgument("dispatch %q: nil engine", f.def.Name)
	}
	fi, err := eng.known(ctx, f.def.Name, f.def)
	if err != nil {
		return nil, err
	}
	inputs := make([]json.RawMessage, len(ins))
	for i, in := range ins {
		raw, err := durable.Encode(in, eng.cfg.MaxPayloadBytes)
		if err != nil {
			return nil, fmt.Errorf("stent: dispatch %q item %d: %w", f.def.Name, i, err)
		}
		inputs[i] = raw
	}
	return eng.dispatchMany(ctx, f.def.Name, fi, inputs, opts)
}

func (e *Engine) dispatchMany(ctx context.Context, name string, fi domain.FunctionInfo, inputs []json.RawMessage, opts []DispatchOption) ([]string, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	o, err := dispatchOpts(name, opts)
	if err != nil {
		return nil, err
	}
	if o.executionID != "" || o.idempotencyKey != "" || o.report != nil {
		return nil, fmt.Errorf("stent: dispatch %q: %w", name,
			domain.InvalidArgument("WithExecutionID, WithIdempotencyKey and ReportDispatch name one execution; DispatchMany refuses them"))
	}
	if len(inputs) == 0 {
		return []string{}, nil
	}
	ctx, carrier, end := e.tracing.startDispatch(ctx, name, "", "")
	now := e.now()
	plans := make([]plan, len(inputs))
	items := make([]ports.NewExecution, len(inputs))
	for i, in := range inputs {
		p, err := e.plan(name, fi, in, o, now)
		if err != nil {
			end("", err)
			return nil, err
		}
		p.root.TraceContext = carrier
		plans[i], items[i] = p, ports.NewExecution{Execution: p.exec, Root: p.root}
	}
	res, err := e.store.CreateExecutions(ctx, items)
	end("", err)
	if err != nil {
		return nil, fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	ids := make([]string, len(res))
	var created []plan
	for i, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("stent: dispatch %q item %d: %w", name, i, r.Err)
		}
		ids[i] = r.ID
		if r.Created {
			created = append(created, plans[i])
		}
	}
	e.announceDispatch(ctx, name, created)
	return ids, nil
}

func dispatchOpts(name string, opts []DispatchOption) (dispatchOptions, error) {
	var o dispatchOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyDispatch(&o)
		}
	}
	switch {
	case o.debounceKey != "" && o.singletonKey != "":
		o.errs = append(o.errs, domain.InvalidArgument("WithSingleton and WithDebounce exclude each other; use one"))
	case o.debounceKey != "" && (o.delay != nil || o.runAt != nil):
		o.errs = append(o.errs, domain.InvalidArgument("WithDebounce sets the start time; it cannot be combined with WithDelay or WithRunAt"))
	}
	if len(o.errs) > 0 {
		return o, fmt.Errorf("stent: dispatch %q: %w", name, errors.Join(o.errs...))
	}
	return o, nil
}

// plan is an execution and its root task, ready to write.
type plan struct {
	exec domain.Execution
	root domain.Task
}

// plan builds the execution of name with input under options o at now.
func (e *Engine) plan(name string, fi domain.FunctionInfo, input json.RawMessage, o dispatchOptions, now time.Time) (plan, error) {
	r := routing{queue: &fi.Queue, tags: fi.Tags, tagsSet: true, priority: &fi.Priority}
	r.merge(o.routing)
	queue := *r.queue
	if queue == "" {
		queue = domain.DefaultQueue
	}
	if err := domain.ValidateName("queue", queue); err != nil {
		return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	for _, t := range r.tags {
		if err := domain.ValidateName("tag", t); err != nil {
			return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
		}
	}
	id := o.executionID
	if id == "" {
		id = domain.NewTimeID(now)
	} else if err := domain.ValidateName("execution id", id); err != nil {
		return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
	}
	if o.idempotencyKey != "" {
		if err := domain.ValidateName("idempotency key", o.idempotencyKey); err != nil {
			return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
		}
	}
	for _, k := range []struct{ what, key string }{{"singleton key", o.singletonKey}, {"debounce key", o.debounceKey}} {
		if k.key != "" {
			if err := domain.ValidateName(k.what, k.key); err != nil {
				return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
			}
		}
	}
	start := now
	var scheduled *time.Time
	switch {
	case o.debounceKey != "":
		t := now.Add(o.debounce)
		scheduled = &t
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
	exec := domain.Execution{
		ID: id, RootFunction: name, Version: fi.Version, State: domain.ExecutionPending, Input: input,
		IdempotencyKey: o.idempotencyKey, SingletonKey: o.singletonKey, DebounceKey: o.debounceKey,
		Tags: slices.Clone(r.tags), Priority: *r.priority, Queue: queue,
		ScheduledFor: scheduled, Deadline: deadline, CreatedAt: now, UpdatedAt: now,
	}
	root := domain.Task{
		ID: domain.NewTimeID(now), ExecutionID: id, Kind: domain.KindOrchestrator, StepName: name, Version: fi.Version,
		State: domain.TaskPending, Input: input, RetryPolicy: policy, MaxConcurrent: fi.MaxConcurrent,
		Tags: exec.Tags, Priority: exec.Priority, Queue: queue, ScheduledFor: scheduled,
		Deadline: deadline, CreatedAt: now, UpdatedAt: now,
	}
	if def, err := e.reg.lookup(name); err == nil && def.Flow != nil {
		fl, err := def.Flow(input, queue)
		if err != nil {
			return plan{}, fmt.Errorf("stent: dispatch %q: %w", name, err)
		}
		root.MaxConcurrent, root.ConcurrencyKey = fl.MaxConcurrent, fl.ConcurrencyKey
		root.RateKey, root.RateLimit, root.RatePer = fl.RateKey, fl.RateLimit, fl.RatePer
	}
	exec.RootTaskID = root.ID
	return plan{exec: exec, root: root}, nil
}

// announceDispatch tells idle workers about new executions that are due,
// and remembers the earliest future start.
func (e *Engine) announceDispatch(ctx context.Context, name string, plans []plan) {
	now := e.now()
	ready := map[string]bool{}
	for _, p := range plans {
		if s := p.exec.ScheduledFor; s != nil && s.After(now) {
			e.noteDue(*s)
			continue
		}
		ready[p.exec.Queue] = true
	}
	for q := range ready {
		e.hints.Publish(ctx, hint.Ready(q, name))
	}
}
