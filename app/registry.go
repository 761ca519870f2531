package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/domain"
)

// Registry holds durable functions by name. There is no global registry:
// create one with NewRegistry, register functions, and pass it to New.
// Registration never panics; errors are kept and returned by New (and by
// Err).
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]*durable.Func
	errs  []error
	// schedules are the ones declared with Schedule.
	schedules []ScheduleDef
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{funcs: map[string]*durable.Func{}} }

// Err returns the registration errors so far, joined, or nil.
func (r *Registry) Err() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return errors.Join(r.errs...)
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.funcs))
	for n := range r.funcs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Infos returns the catalogue entries of the registered functions.
func (r *Registry) Infos() []domain.FunctionInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]domain.FunctionInfo, 0, len(r.funcs))
	for _, d := range r.funcs {
		out = append(out, d.Info())
	}
	slices.SortFunc(out, func(a, b domain.FunctionInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

func (r *Registry) lookup(name string) (*durable.Func, error) {
	r.mu.RLock()
	d, ok := r.funcs[name]
	r.mu.RUnlock()
	if !ok {
		return nil, &UnregisteredFunctionError{Name: name, Registered: r.Names()}
	}
	return d, nil
}

func (r *Registry) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// Function is a typed handle to a registered durable function.
type Function[I, O any] struct {
	def *durable.Func
	fn  func(context.Context, I) (O, error)
	err error
}

// Name returns the registered name.
func (f *Function[I, O]) Name() string {
	if f.def == nil {
		return ""
	}
	return f.def.Name
}

// Register adds fn to reg under name and returns a typed handle. It never
// panics: a nil fn, a bad name, a duplicate name or a bad option is kept as
// an error that New (and reg.Err) returns, and calls through the handle
// fail with it.
func Register[I, O any](reg *Registry, name string, fn func(context.Context, I) (O, error), opts ...RegisterOption) *Function[I, O] {
	f := &Function[I, O]{fn: fn}
	fail := func(err error) *Function[I, O] {
		f.err = fmt.Errorf("stent: register %q: %w", name, err)
		if reg != nil {
			reg.fail(f.err)
		}
		return f
	}
	if reg == nil {
		return fail(domain.InvalidArgument("nil registry"))
	}
	if err := domain.ValidateFunctionName(name); err != nil {
		return fail(err)
	}
	if fn == nil {
		return fail(domain.InvalidArgument("nil function"))
	}
	var o funcOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyRegister(&o)
		}
	}
	if len(o.errs) > 0 {
		return fail(errors.Join(o.errs...))
	}
	d := &durable.Func{
		Name: name, Queue: domain.DefaultQueue, MaxConcurrent: o.maxConcurrent,
		Idempotent: o.idempotent, Cached: o.cached, CacheTTL: o.cacheTTL, Version: o.version,
		Code: reflect.ValueOf(fn).Pointer(),
	}
	if o.routing.queue != nil {
		if err := domain.ValidateName("queue", *o.routing.queue); err != nil {
			return fail(err)
		}
		d.Queue = *o.routing.queue
	}
	if o.routing.tagsSet {
		for _, t := range o.routing.tags {
			if err := domain.ValidateName("tag", t); err != nil {
				return fail(err)
			}
		}
		d.Tags = slices.Clone(o.routing.tags)
	}
	if o.routing.priority != nil {
		d.Priority = *o.routing.priority
	}
	d.Retry = domain.DefaultRetryPolicy()
	if o.retry != nil {
		d.Retry = o.retry.Normalize()
	}
	if err := d.Retry.Validate(); err != nil {
		return fail(err)
	}
	if o.keyFunc != nil {
		kf, ok := o.keyFunc.(func(I) string)
		if !ok {
			var zero I
			return fail(domain.InvalidArgument("WithKeyFunc takes %T, want func(%s) string", o.keyFunc, reflect.TypeOf(&zero).Elem()))
		}
		d.UserKey = func(input json.RawMessage) (string, bool, error) {
			in, err := durable.DecodeInput[I](name, input)
			if err != nil {
				return "", false, err
			}
			return kf(in), true, nil
		}
	}
	flow, err := flowLimits[I](name, o)
	if err != nil {
		return fail(err)
	}
	d.Flow = flow
	if c := o.concurrency; c != nil && c.scope == domain.ScopeFunction && c.key == nil {
		d.MaxConcurrent = c.limit // the function-wide limit, also in the catalogue
	}
	d.Invoke = func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		in, err := durable.DecodeInput[I](name, input)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return durable.Encode(out, 0)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.funcs[name]; dup {
		f.err = fmt.Errorf("stent: register %q: %w", name, domain.InvalidArgument("a function named %q is already registered", name))
		reg.errs = append(reg.errs, f.err)
		return f
	}
	reg.funcs[name] = d
	f.def = d
	return f
}

// Clone returns a copy of r holding the same functions and registration
// errors. Overriding a function in the copy (Override) leaves r as it is:
// package stenttest builds each test engine on a clone.
func (r *Registry) Clone() *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := &Registry{funcs: make(map[string]*durable.Func, len(r.funcs)), errs: slices.Clone(r.errs), schedules: slices.Clone(r.schedules)}
	for n, d := range r.funcs {
		c.funcs[n] = d
	}
	return c
}

// Override replaces the body of f in reg with fn, for tests (package
// stenttest's Env.Stub): runs that a worker of an engine on reg claims
// from then on call fn instead of f's body. Name, routing, retry policy and
// the other options stay f's; handles to f keep dispatching to reg. Calls
// run inline in the caller's goroutine use the handle's own body, so an
// engine whose stubs must apply to every call sets Config.NoInlineSteps.
// It returns f's registration error, or an UnregisteredFunctionError when
// reg does not hold f.
func Override[I, O any](reg *Registry, f *Function[I, O], fn func(context.Context, I) (O, error)) error {
	if f == nil || reg == nil || fn == nil {
		return domain.InvalidArgument("app.Override: nil registry, function or body")
	}
	if f.err != nil {
		return f.err
	}
	name := f.def.Name
	reg.mu.Lock()
	defer reg.mu.Unlock()
	cur, ok := reg.funcs[name]
	if !ok || !cur.Same(f.def) {
		names := make([]string, 0, len(reg.funcs))
		for n := range reg.funcs {
			names = append(names, n)
		}
		slices.Sort(names)
		return &UnregisteredFunctionError{Name: name, Registered: names, Other: ok}
	}
	d := *cur
	d.Invoke = func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		in, err := durable.DecodeInput[I](name, input)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return durable.Encode(out, 0)
	}
	reg.funcs[name] = &d
	return nil
}
