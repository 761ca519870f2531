package domain

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"
)

// Retry policy defaults (SPEC §2.6).
const (
	DefaultMaxAttempts   = 3
	DefaultInitialDelay  = time.Second
	DefaultMaxDelay      = 60 * time.Second
	DefaultBackoffFactor = 2.0
	DefaultJitter        = 0.1
	// DefaultMaxRecoveries is the recovery budget: how many times a task
	// may be reclaimed after its worker was lost (lease expired, worker
	// declared dead) before it is dead-lettered as a poison pill.
	DefaultMaxRecoveries = 100
)

// NoJitter disables jitter: a zero Jitter field means "use the default".
const NoJitter = math.SmallestNonzeroFloat64

// RetryPolicy says how often and how soon a failed task is retried. Zero
// fields take the defaults (3 attempts, 1s initial delay, x2, 60s cap, 10%
// jitter); see Normalize. The whole policy is stored on every task.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included.
	MaxAttempts   int
	InitialDelay  time.Duration
	MaxDelay      time.Duration
	BackoffFactor float64
	// Jitter is the +/- fraction applied to each delay, 0..1. Use NoJitter
	// for none.
	Jitter float64
	// RetryOn, when non-empty, retries only errors carrying one of these
	// codes or Go type names.
	RetryOn []string
	// NonRetryable lists codes or Go type names (%T) that fail at once.
	NonRetryable []string
	// MaxRecoveries is the recovery budget, apart from MaxAttempts: how
	// many times the task may be reclaimed after its worker was lost (a
	// crash, a kill, a lost lease). Recoveries never spend attempts;
	// MaxAttempts counts only failures of user code. A task recovered more
	// often than this (a body that kills its process every time) is
	// dead-lettered. Default 100.
	MaxRecoveries int
}

// DefaultRetryPolicy returns the defaults.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   DefaultMaxAttempts,
		InitialDelay:  DefaultInitialDelay,
		MaxDelay:      DefaultMaxDelay,
		BackoffFactor: DefaultBackoffFactor,
		Jitter:        DefaultJitter,
		MaxRecoveries: DefaultMaxRecoveries,
	}
}

// Normalize returns p with every zero field replaced by its default.
func (p RetryPolicy) Normalize() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialDelay == 0 {
		p.InitialDelay = d.InitialDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.BackoffFactor == 0 {
		p.BackoffFactor = d.BackoffFactor
	}
	if p.Jitter == 0 {
		p.Jitter = d.Jitter
	}
	if p.MaxRecoveries == 0 {
		p.MaxRecoveries = d.MaxRecoveries
	}
	return p
}

// RecoveryBudget returns MaxRecoveries, or the default when it is unset
// (a policy stored before the recovery budget existed).
func (p RetryPolicy) RecoveryBudget() int {
	if p.MaxRecoveries <= 0 {
		return DefaultMaxRecoveries
	}
	return p.MaxRecoveries
}

// Validate reports the first bad field of a normalized policy, as an error
// matching ErrInvalidArgument that names the value and what is allowed.
func (p RetryPolicy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return InvalidArgument("retry policy: max attempts %d; must be at least 1", p.MaxAttempts)
	case p.InitialDelay < 0:
		return InvalidArgument("retry policy: initial delay %s; must not be negative", p.InitialDelay)
	case p.MaxDelay < 0:
		return InvalidArgument("retry policy: max delay %s; must not be negative", p.MaxDelay)
	case math.IsNaN(p.BackoffFactor) || math.IsInf(p.BackoffFactor, 0) || p.BackoffFactor < 1:
		return InvalidArgument("retry policy: backoff factor %v; must be a finite number >= 1", p.BackoffFactor)
	case math.IsNaN(p.Jitter) || p.Jitter < 0 || p.Jitter > 1:
		return InvalidArgument("retry policy: jitter %v; must be between 0 and 1", p.Jitter)
	case p.MaxRecoveries < 1:
		return InvalidArgument("retry policy: max recoveries %d; must be at least 1", p.MaxRecoveries)
	}
	return nil
}

// Delay returns the wait before the attempt following attempt (1-based):
// InitialDelay * BackoffFactor^(attempt-1), capped at MaxDelay, then +/-
// Jitter drawn from rnd (uniform in [0,1); nil means no jitter), never
// negative.
func (p RetryPolicy) Delay(attempt int, rnd func() float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if p.InitialDelay <= 0 {
		return 0
	}
	const maxDur = float64(math.MaxInt64)
	d := float64(p.InitialDelay) * math.Pow(p.BackoffFactor, float64(attempt-1))
	if math.IsNaN(d) || d > maxDur {
		d = maxDur // saturate before capping or jittering: Inf would make NaN
	}
	if p.MaxDelay > 0 && d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	if p.Jitter > 0 && rnd != nil {
		d += d * p.Jitter * (2*rnd() - 1)
	}
	switch {
	case d <= 0 || math.IsNaN(d):
		return 0
	case d >= maxDur:
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// Retryable classifies err under the policy. An error is not retryable when
// it is Permanent; when a code or Go type name in its chain is listed in
// NonRetryable; when RetryOn is non-empty and lists none of them; or when it
// is ErrNonDeterministic, ErrSerialization or ErrPayloadTooLarge. A stored
// *TaskError in the chain (a failed child's error returned by its parent)
// keeps its own decision when it was non-retryable, except a recovered
// panic, which the current policy decides afresh. A stored error's Go type
// name is its Type field, matched like the type names of a live chain.
func (p RetryPolicy) Retryable(err error) bool {
	if err == nil || IsPermanent(err) {
		return false
	}
	for _, s := range []error{ErrNonDeterministic, ErrSerialization, ErrPayloadTooLarge} {
		if errors.Is(err, s) {
			return false
		}
	}
	names := append(ErrorCodes(err), ErrorTypes(err)...)
	var stored *TaskError
	if errors.As(err, &stored) && stored.Type != "" {
		names = append(names, stored.Type)
	}
	for _, n := range names {
		if slices.Contains(p.NonRetryable, n) {
			return false
		}
	}
	if len(p.RetryOn) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(p.RetryOn, n) }) {
		return false
	}
	var te *TaskError
	if errors.As(err, &te) && !te.Retryable && te.Code != PanicErrorCode {
		// A stored error (e.g. a failed child's) keeps its decision.
		return false
	}
	return true
}

type retryPolicyJSON struct {
	MaxAttempts    int      `json:"max_attempts"`
	InitialDelayMS float64  `json:"initial_delay_ms"`
	MaxDelayMS     float64  `json:"max_delay_ms"`
	BackoffFactor  float64  `json:"backoff_factor"`
	Jitter         float64  `json:"jitter"`
	RetryOn        []string `json:"retry_on,omitempty"`
	NonRetryable   []string `json:"non_retryable,omitempty"`
	MaxRecoveries  int      `json:"max_recoveries,omitempty"`
}

// MarshalJSON stores the policy as a full object with durations in
// milliseconds (fractional, so sub-millisecond delays survive).
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	return json.Marshal(retryPolicyJSON{
		MaxAttempts:    p.MaxAttempts,
		InitialDelayMS: msOf(p.InitialDelay),
		MaxDelayMS:     msOf(p.MaxDelay),
		BackoffFactor:  p.BackoffFactor,
		Jitter:         p.Jitter,
		RetryOn:        p.RetryOn,
		NonRetryable:   p.NonRetryable,
		MaxRecoveries:  p.MaxRecoveries,
	})
}

// UnmarshalJSON reads the stored form.
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var j retryPolicyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = RetryPolicy{
		MaxAttempts:   j.MaxAttempts,
		InitialDelay:  durationOfMS(j.InitialDelayMS),
		MaxDelay:      durationOfMS(j.MaxDelayMS),
		BackoffFactor: j.BackoffFactor,
		Jitter:        j.Jitter,
		RetryOn:       j.RetryOn,
		NonRetryable:  j.NonRetryable,
		MaxRecoveries: j.MaxRecoveries,
	}
	return nil
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func durationOfMS(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}
