package app

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/domain"
)

// flowOption is a concurrency or rate limit given at registration.
type flowOption struct {
	option string // the option's name, for errors
	scope  domain.LimitScope
	limit  int
	per    time.Duration // rate limits only
	key    any           // nil or func(I) string, checked at Register
}

// WithConcurrency limits how many tasks of the function run at once per
// key across the whole cluster: at most limit running tasks share a key
// (e.g. one live run per customer with limit 1 and a key returning the
// customer id). key runs on the input when the task is dispatched or
// called, and the key is stored on the task; a nil key limits the
// function as a whole (like WithMaxConcurrent). limit must be 1 or more.
// A key function that panics fails that dispatch or call with an error
// carrying the panic. The function's input type must be I.
func WithConcurrency[I any](limit int, key func(I) string) RegisterOption {
	return concurrencyOption("WithConcurrency", domain.ScopeFunction, limit, key)
}

// WithQueueConcurrency is WithConcurrency scoped by the task's queue
// instead of the function: every function registered with it on the same
// queue shares the groups (the queue and the key).
func WithQueueConcurrency[I any](limit int, key func(I) string) RegisterOption {
	return concurrencyOption("WithQueueConcurrency", domain.ScopeQueue, limit, key)
}

func concurrencyOption[I any](name string, scope domain.LimitScope, limit int, key func(I) string) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) {
		if err := domain.ValidateLimit(name, limit, nil); err != nil {
			o.errs = append(o.errs, err)
			return
		}
		if o.concurrency != nil {
			o.errs = append(o.errs, domain.InvalidArgument("%s after %s; a function has one concurrency limit", name, o.concurrency.option))
			return
		}
		o.concurrency = &flowOption{option: name, scope: scope, limit: limit}
		if key != nil {
			o.concurrency.key = key
		}
	})
}

// WithRateLimit limits how often tasks of the function start: at most n
// fresh runs (first attempts and retries; not resumes after a sleep or
// wait) per key within any window of length per, across the cluster. The
// store keeps a sliding-window log of starts and charges it inside the
// claim; a task held back waits without blocking the tasks behind it, and
// its execution's wait reason reads "rate limited until 15:04:05". A nil
// key limits the function as a whole. n and per must be positive.
func WithRateLimit[I any](n int, per time.Duration, key func(I) string) RegisterOption {
	return rateOption("WithRateLimit", domain.ScopeFunction, n, per, key)
}

// WithQueueRateLimit is WithRateLimit scoped by the task's queue: every
// function registered with it on the same queue shares the windows.
func WithQueueRateLimit[I any](n int, per time.Duration, key func(I) string) RegisterOption {
	return rateOption("WithQueueRateLimit", domain.ScopeQueue, n, per, key)
}

func rateOption[I any](name string, scope domain.LimitScope, n int, per time.Duration, key func(I) string) RegisterOption {
	return registerOptionFunc(func(o *funcOptions) {
		if err := domain.ValidateLimit(name, n, &per); err != nil {
			o.errs = append(o.errs, err)
			return
		}
		if o.rate != nil {
			o.errs = append(o.errs, domain.InvalidArgument("%s after %s; a function has one rate limit", name, o.rate.option))
			return
		}
		o.rate = &flowOption{option: name, scope: scope, limit: n, per: per}
		if key != nil {
			o.rate.key = key
		}
	})
}

// flowKey returns the typed key function of a flow option, or an error
// naming the wrong type.
func flowKey[I any](f *flowOption) (func(I) string, error) {
	if f == nil || f.key == nil {
		return nil, nil
	}
	kf, ok := f.key.(func(I) string)
	if !ok {
		var zero I
		return nil, domain.InvalidArgument("%s takes %T, want func(%s) string", f.option, f.key, reflect.TypeOf(&zero).Elem())
	}
	return kf, nil
}

// flowLimits builds the function's durable.Func.Flow from its options:
// the limits of one task from its encoded input and queue.
func flowLimits[I any](name string, o funcOptions) (func(json.RawMessage, string) (durable.Flow, error), error) {
	if o.concurrency == nil && o.rate == nil {
		return nil, nil
	}
	if o.concurrency != nil && o.maxConcurrent > 0 {
		return nil, domain.InvalidArgument("WithMaxConcurrent(%d) and %s both set; use one", o.maxConcurrent, o.concurrency.option)
	}
	ck, err := flowKey[I](o.concurrency)
	if err != nil {
		return nil, err
	}
	rk, err := flowKey[I](o.rate)
	if err != nil {
		return nil, err
	}
	group := func(f *flowOption, kf func(I) string, in I, queue string) (string, error) {
		scoped := name
		if f.scope == domain.ScopeQueue {
			scoped = queue
		}
		k := ""
		if kf != nil {
			var err error
			if k, err = callKey(name, f.option, kf, in); err != nil {
				return "", err
			}
		}
		return domain.LimitGroup(f.scope, scoped, k), nil
	}
	return func(input json.RawMessage, queue string) (durable.Flow, error) {
		out := durable.Flow{MaxConcurrent: o.maxConcurrent}
		needsInput := ck != nil || rk != nil
		var in I
		if needsInput {
			var err error
			if in, err = durable.DecodeInput[I](name, input); err != nil {
				return out, err
			}
		}
		if c := o.concurrency; c != nil {
			out.MaxConcurrent = c.limit
			// A key-less function-scoped limit is the function's own
			// group: the store counts it by step name.
			if c.scope == domain.ScopeQueue || ck != nil {
				g, err := group(c, ck, in, queue)
				if err != nil {
					return out, err
				}
				out.ConcurrencyKey = g
			}
		}
		if r := o.rate; r != nil {
			g, err := group(r, rk, in, queue)
			if err != nil {
				return out, err
			}
			out.RateKey, out.RateLimit, out.RatePer = g, r.limit, r.per
		}
		return out, nil
	}, nil
}

// callKey runs a user's key function; a panic becomes an error carrying
// its message, so a bad key fails the dispatch instead of the process.
func callKey[I any](name, option string, kf func(I) string, in I) (key string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = domain.InvalidArgument("%s key function of %q panicked: %v", option, name, v)
		}
	}()
	key = kf(in)
	if err := domain.ValidateName(option+" key", key); err != nil && key != "" {
		return "", fmt.Errorf("%s key of %q: %w", option, name, err)
	}
	return key, nil
}
