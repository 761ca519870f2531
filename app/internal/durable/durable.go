// Package durable is a registered durable function with its types erased
// (Func), and the JSON codec of inputs, results and payloads.
package durable

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/stenthq/stent/domain"
)

// Func is a registered function with its types erased.
type Func struct {
	Name          string
	Queue         string
	Tags          []string
	Priority      int
	Retry         domain.RetryPolicy
	MaxConcurrent int
	Idempotent    bool
	Cached        bool
	CacheTTL      time.Duration
	Version       string
	// Invoke decodes the input, runs the function and encodes the output.
	Invoke func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)
	// UserKey returns the WithKeyFunc key of an encoded input, if any.
	UserKey func(input json.RawMessage) (string, bool, error)
	// Flow returns the flow limits of a task of the function from its
	// encoded input and queue (WithConcurrency, WithRateLimit); nil when
	// the function has none.
	Flow func(input json.RawMessage, queue string) (Flow, error)
	// Code is the code address of the registered Go function (for Same).
	Code uintptr
}

// Flow is the flow limits of one task (see domain.Task).
type Flow struct {
	MaxConcurrent  int
	ConcurrencyKey string
	RateKey        string
	RateLimit      int
	RatePer        time.Duration
}

// Same reports whether d and o are the same registered function: the same
// registration, or the same name and Go function body (a handle from
// another registry of the same code).
func (d *Func) Same(o *Func) bool {
	return d == o || (d.Name == o.Name && d.Code != 0 && d.Code == o.Code)
}

// Info is the function's catalogue entry.
func (d *Func) Info() domain.FunctionInfo {
	return domain.FunctionInfo{
		Name: d.Name, Queue: d.Queue, Tags: d.Tags, Priority: d.Priority,
		MaxConcurrent: d.MaxConcurrent, Version: d.Version, RetryPolicy: d.Retry,
		Idempotent: d.Idempotent, Cached: d.Cached,
	}
}

// Key returns the idempotency/cache key of an encoded input.
func (d *Func) Key(input json.RawMessage) (string, error) {
	if d.UserKey != nil {
		k, ok, err := d.UserKey(input)
		if err != nil {
			return "", err
		}
		if ok {
			return domain.ScopedKey(d.Name, k), nil
		}
	}
	k, err := domain.IdempotencyKey(d.Name, d.Version, input)
	if err != nil {
		return "", fmt.Errorf("%w: idempotency key of %q: %v", domain.ErrSerialization, d.Name, err)
	}
	return k, nil
}

// Encode encodes v as JSON. Unencodable values (channels, functions,
// NaN, ±Inf) fail with ErrSerialization; a value over max bytes (max > 0)
// fails with ErrPayloadTooLarge. Nothing is silently stringified.
func Encode(v any, max int) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode %T as JSON: %v", domain.ErrSerialization, v, err)
	}
	if max > 0 && len(b) > max {
		return nil, fmt.Errorf("%w: %T encodes to %d bytes; the limit is %d", domain.ErrPayloadTooLarge, v, len(b), max)
	}
	return b, nil
}

// DecodeInput decodes a stored input of function name into I.
func DecodeInput[I any](name string, input json.RawMessage) (I, error) {
	var in I
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return in, fmt.Errorf("%w: decoding the input of %q into %s: %v", domain.ErrSerialization, name, typeName[I](), err)
	}
	return in, nil
}

// Decode decodes a stored result into O; what names it in the error.
func Decode[O any](what string, raw json.RawMessage) (O, error) {
	var out O
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("%w: decoding %s into %s: %v", domain.ErrSerialization, what, typeName[O](), err)
	}
	return out, nil
}

func typeName[T any]() string {
	return reflect.TypeOf((*T)(nil)).Elem().String()
}
