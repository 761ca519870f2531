package app

import (
	"time"

	"github.com/stenthq/stent/domain"
)

// RegisterOption configures a durable function at registration.
type RegisterOption interface{ applyRegister(*funcOptions) }

// DispatchOption configures one dispatch.
type DispatchOption interface{ applyDispatch(*dispatchOptions) }

// RoutingOption is both a RegisterOption and a DispatchOption: queue, tags
// and priority set at registration are defaults a dispatch may override.
type RoutingOption interface {
	RegisterOption
	DispatchOption
}

type routing struct {
	queue    *string
	tags     []string
	tagsSet  bool
	priority *int
}

func (r *routing) merge(o routing) {
	if o.queue != nil {
		r.queue = o.queue
	}
	if o.tagsSet {
		r.tags, r.tagsSet = o.tags, true
	}
	if o.priority != nil {
		r.priority = o.priority
	}
}

type routingOption routing

func (o routingOption) applyRegister(f *funcOptions)     { f.routing.merge(routing(o)) }
func (o routingOption) applyDispatch(d *dispatchOptions) { d.routing.merge(routing(o)) }

// WithQueue routes the function's tasks (or one dispatch) to a queue.
func WithQueue(queue string) RoutingOption { return routingOption{queue: &queue} }

// WithTags restricts the tasks to workers sharing one of the tags.
func WithTags(tags ...string) RoutingOption {
	return routingOption{tags: append([]string(nil), tags...), tagsSet: true}
}

// WithPriority sets the claim priority (higher first).
func WithPriority(p int) RoutingOption { return routingOption{priority: &p} }

type funcOptions struct {
	routing       routing
	retry         *domain.RetryPolicy
	maxConcurrent int
	idempotent    bool
	cached        bool
	cacheTTL      time.Duration
	version       string
	keyFunc       any // func(I) string, checked at Register
	concurrency   *flowOption
	rate          *flowOption
	errs          []error
}

type registerOptionFunc func(*funcOptions)

func (f registerOptionFunc) applyRegister(o *funcOptions) { f(o) }

// WithRetry sets the retry policy; zero fields take the defaults (3
// attempts, 1s, x2, 60s cap, 10% jitter).
func WithRetry(p domain.RetryPolicy) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) { o.retry = &p })
}

// WithMaxConcurrent limits how many tasks of the function run at once
// across the whole cluster; 0 means no limit.
func WithMaxConcurrent(n int) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) {
		if n < 0 {
			o.errs = append(o.errs, domain.InvalidArgument("max concurrent %d; must be 0 (no limit) or more", n))
			return
		}
		o.maxConcurrent = n
	})
}

// WithIdempotent makes calls idempotent: a call with the same key (by
// default the function name, version and canonical input) reuses the first
// call's result forever, and concurrent callers share one run.
func WithIdempotent() RegisterOption {
	return registerOptionFunc(func(o *funcOptions) { o.idempotent = true })
}

// WithCache caches results for ttl (0: forever); a call with the same key
// within the ttl returns the cached result without running.
func WithCache(ttl time.Duration) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) {
		if ttl < 0 {
			o.errs = append(o.errs, domain.InvalidArgument("cache ttl %s; must not be negative", ttl))
			return
		}
		o.cached, o.cacheTTL = true, ttl
	})
}

// WithVersion sets the function's version ("v2"): part of the default
// idempotency/cache key, and stored on every execution and task of the
// function that this registry creates. A worker claims a versioned task
// only if its own registry registers the function at that version (see
// WorkerOptions.Versions, VersionStrict), so old and new code of a
// workflow can run side by side: v1 runs finish on v1 workers while new
// dispatches go to v2 workers. "" (the default) is unversioned.
func WithVersion(v string) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) {
		if v != "" {
			if err := domain.ValidateName("version", v); err != nil {
				o.errs = append(o.errs, err)
				return
			}
		}
		o.version = v
	})
}

// VersionPolicy says which task versions a worker claims
// (WorkerOptions.Versions).
type VersionPolicy = domain.VersionPolicy

// Version policies of WorkerOptions.Versions.
const (
	// VersionStrict (the default): a task of function f at version v goes
	// only to a worker whose registry registers f at v; unversioned tasks
	// have version "".
	VersionStrict = domain.VersionStrict
	// VersionAny: claim the tasks of the worker's functions whatever their
	// version (e.g. a worker that drains every run during a migration).
	VersionAny = domain.VersionAny
)

// WithKeyFunc derives the idempotency/cache key from the input instead of
// hashing the whole input. Keys are scoped by function name. The function's
// input type must be I.
func WithKeyFunc[I any](key func(I) string) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) { o.keyFunc = key })
}

type dispatchOptions struct {
	routing        routing
	delay          *time.Duration
	runAt          *time.Time
	maxDuration    *time.Duration
	idempotencyKey string
	executionID    string
	singletonKey   string
	debounceKey    string
	debounce       time.Duration
	report         *DispatchInfo
	errs           []error
}

type dispatchOptionFunc func(*dispatchOptions)

func (f dispatchOptionFunc) applyDispatch(o *dispatchOptions) { f(o) }

// WithDelay schedules the execution to start after d (d >= 0).
func WithDelay(d time.Duration) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) {
		if d < 0 {
			o.errs = append(o.errs, domain.InvalidArgument("delay %s; must not be negative", d))
			return
		}
		o.delay, o.runAt = &d, nil
	})
}

// WithRunAt schedules the execution to start at t.
func WithRunAt(t time.Time) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) { o.runAt, o.delay = &t, nil })
}

// WithMaxDuration bounds the execution: it times out d after its scheduled
// start. 0 means no deadline.
func WithMaxDuration(d time.Duration) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) {
		if d < 0 {
			o.errs = append(o.errs, domain.InvalidArgument("max duration %s; must not be negative", d))
			return
		}
		o.maxDuration = &d
	})
}

// WithIdempotencyKey makes the dispatch idempotent: a reused key returns the
// first execution's id.
func WithIdempotencyKey(key string) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) { o.idempotencyKey = key })
}

// WithSingleton allows at most one live (pending or running) execution
// per key: a dispatch while one is live writes nothing and returns the
// live execution's id (ReportDispatch says DispatchJoined); once it has
// finished (completed, failed, cancelled or timed out) the next dispatch
// starts a new one. The check is atomic in the store, so concurrent
// dispatches from any number of processes create one execution. An empty
// key is ErrInvalidArgument; it cannot be combined with WithDebounce.
func WithSingleton(key string) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) {
		if key == "" {
			o.errs = append(o.errs, domain.InvalidArgument("singleton key is empty; a key is required"))
			return
		}
		o.singletonKey = key
	})
}

// WithDebounce starts the run d after the last dispatch with this key,
// with that dispatch's input: while an execution with the key is pending
// (its run has not started), a dispatch replaces its input, pushes its
// start back to now + d (and its WithMaxDuration deadline with it) and
// returns its id (ReportDispatch says DispatchDebounced); once the run has
// started, the next dispatch creates a new pending execution. d must be
// positive and the key non-empty (ErrInvalidArgument); it cannot be
// combined with WithDelay, WithRunAt or WithSingleton.
func WithDebounce(key string, d time.Duration) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) {
		switch {
		case key == "":
			o.errs = append(o.errs, domain.InvalidArgument("debounce key is empty; a key is required"))
		case d <= 0:
			o.errs = append(o.errs, domain.InvalidArgument("debounce %q: window %s; must be positive", key, d))
		default:
			o.debounceKey, o.debounce = key, d
		}
	})
}

// DispatchOutcome says what a dispatch did (see ReportDispatch).
type DispatchOutcome = domain.DispatchOutcome

// The outcomes of a dispatch.
const (
	// DispatchCreated: a new execution was written.
	DispatchCreated = domain.DispatchCreated
	// DispatchExisting: WithExecutionID or WithIdempotencyKey named an
	// existing execution; nothing was written.
	DispatchExisting = domain.DispatchExisting
	// DispatchJoined: a live execution holds the WithSingleton key.
	DispatchJoined = domain.DispatchJoined
	// DispatchDebounced: the pending execution of the WithDebounce key took
	// this dispatch's input and start time.
	DispatchDebounced = domain.DispatchDebounced
)

// DispatchInfo is what ReportDispatch fills in.
type DispatchInfo struct {
	ExecutionID string          `json:"execution_id"`
	Outcome     DispatchOutcome `json:"outcome"`
}

// ReportDispatch fills *info with the dispatch's execution id and outcome
// (created, existing, joined or debounced) once it succeeds. Dispatch only;
// DispatchMany refuses it.
func ReportDispatch(info *DispatchInfo) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) { o.report = info })
}

// WithExecutionID dispatches under a caller-chosen id; dispatching the same
// id again returns it without creating anything.
func WithExecutionID(id string) DispatchOption {
	return dispatchOptionFunc(func(o *dispatchOptions) { o.executionID = id })
}
