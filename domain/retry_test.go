package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestDefaultRetryPolicyMatchesTheSpec(t *testing.T) {
	t.Parallel()
	want := domain.RetryPolicy{
		MaxAttempts:   3,
		InitialDelay:  time.Second,
		MaxDelay:      60 * time.Second,
		BackoffFactor: 2.0,
		Jitter:        0.1,
		MaxRecoveries: 100,
	}
	if got := domain.DefaultRetryPolicy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("DefaultRetryPolicy() = %+v, want %+v", got, want)
	}
	if err := domain.DefaultRetryPolicy().Validate(); err != nil {
		t.Fatalf("the default policy does not validate: %v", err)
	}
}

func TestRetryPolicyNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   domain.RetryPolicy
		want domain.RetryPolicy
	}{
		{
			name: "a zero policy takes every default",
			in:   domain.RetryPolicy{},
			want: domain.DefaultRetryPolicy(),
		},
		{
			name: "set fields are kept and only zero fields are filled",
			in:   domain.RetryPolicy{MaxAttempts: 7, BackoffFactor: 1.5, RetryOn: []string{"x"}},
			want: domain.RetryPolicy{MaxAttempts: 7, InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 1.5, Jitter: 0.1, RetryOn: []string{"x"}, MaxRecoveries: 100},
		},
		{
			name: "a fully set policy is unchanged",
			in:   domain.RetryPolicy{MaxAttempts: 1, InitialDelay: time.Millisecond, MaxDelay: time.Hour, BackoffFactor: 3, Jitter: 0.5, NonRetryable: []string{"y"}, MaxRecoveries: 7},
			want: domain.RetryPolicy{MaxAttempts: 1, InitialDelay: time.Millisecond, MaxDelay: time.Hour, BackoffFactor: 3, Jitter: 0.5, NonRetryable: []string{"y"}, MaxRecoveries: 7},
		},
		{
			name: "NoJitter survives normalisation",
			in:   domain.RetryPolicy{Jitter: domain.NoJitter},
			want: domain.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: domain.NoJitter, MaxRecoveries: 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.in.Normalize(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Normalize() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRetryPolicyValidateNamesTheBadValue(t *testing.T) {
	t.Parallel()
	base := domain.DefaultRetryPolicy()
	with := func(change func(*domain.RetryPolicy)) domain.RetryPolicy {
		p := base
		change(&p)
		return p
	}
	tests := []struct {
		name   string
		policy domain.RetryPolicy
		want   string // substring of the message; "" means valid
	}{
		{"the defaults are valid", base, ""},
		{"one attempt is valid", with(func(p *domain.RetryPolicy) { p.MaxAttempts = 1 }), ""},
		{"jitter 0 and 1 are valid", with(func(p *domain.RetryPolicy) { p.Jitter = 1 }), ""},
		{"a factor of 1 is valid", with(func(p *domain.RetryPolicy) { p.BackoffFactor = 1 }), ""},
		{"zero max attempts is rejected", with(func(p *domain.RetryPolicy) { p.MaxAttempts = 0 }), "max attempts 0; must be at least 1"},
		{"negative max attempts is rejected", with(func(p *domain.RetryPolicy) { p.MaxAttempts = -2 }), "max attempts -2"},
		{"a negative initial delay is rejected", with(func(p *domain.RetryPolicy) { p.InitialDelay = -time.Second }), "initial delay -1s; must not be negative"},
		{"a negative max delay is rejected", with(func(p *domain.RetryPolicy) { p.MaxDelay = -time.Minute }), "max delay -1m0s; must not be negative"},
		{"a factor below 1 is rejected", with(func(p *domain.RetryPolicy) { p.BackoffFactor = 0.5 }), "backoff factor 0.5; must be a finite number >= 1"},
		{"a NaN factor is rejected", with(func(p *domain.RetryPolicy) { p.BackoffFactor = math.NaN() }), "backoff factor NaN"},
		{"an infinite factor is rejected", with(func(p *domain.RetryPolicy) { p.BackoffFactor = math.Inf(1) }), "backoff factor +Inf"},
		{"negative jitter is rejected", with(func(p *domain.RetryPolicy) { p.Jitter = -0.1 }), "jitter -0.1; must be between 0 and 1"},
		{"jitter above 1 is rejected", with(func(p *domain.RetryPolicy) { p.Jitter = 1.5 }), "jitter 1.5; must be between 0 and 1"},
		{"NaN jitter is rejected", with(func(p *domain.RetryPolicy) { p.Jitter = math.NaN() }), "jitter NaN"},
		{"a negative recovery budget is rejected", with(func(p *domain.RetryPolicy) { p.MaxRecoveries = -1 }), "max recoveries -1; must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.want)
			}
			if !errors.Is(err, domain.ErrInvalidArgument) {
				t.Errorf("Validate() error %v does not match ErrInvalidArgument", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "stent: retry policy: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("Validate() message %q, want prefix %q and %q", msg, "stent: retry policy: ", tc.want)
			}
		})
	}
}

// constant returns a random source that always draws v.
func constant(v float64) func() float64 { return func() float64 { return v } }

func TestRetryPolicyDelayFollowsTheBackoffFormula(t *testing.T) {
	t.Parallel()
	p := domain.RetryPolicy{MaxAttempts: 10, InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: 0.1}
	tests := []struct {
		attempt int
		want    time.Duration // without jitter
	}{
		{0, time.Second}, // attempts below 1 count as the first
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{5, 16 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute}, // 64 s capped at MaxDelay
		{8, time.Minute},
		{1000, time.Minute},
		{math.MaxInt, time.Minute},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("attempt %d waits %v before jitter", tc.attempt, tc.want), func(t *testing.T) {
			t.Parallel()
			if got := p.Delay(tc.attempt, nil); got != tc.want {
				t.Errorf("Delay(%d, nil) = %v, want %v", tc.attempt, got, tc.want)
			}
			// rnd 0.5 is the middle of the jitter band: no change.
			if got := p.Delay(tc.attempt, constant(0.5)); got != tc.want {
				t.Errorf("Delay(%d, 0.5) = %v, want %v", tc.attempt, got, tc.want)
			}
			// rnd 0 is the bottom of the band: -10%.
			low := tc.want - tc.want/10
			if got := p.Delay(tc.attempt, constant(0)); absDiff(got, low) > time.Nanosecond {
				t.Errorf("Delay(%d, 0) = %v, want %v", tc.attempt, got, low)
			}
			// rnd just below 1 is the top of the band: just under +10%.
			high := tc.want + tc.want/10
			got := p.Delay(tc.attempt, constant(0.9999999999))
			if got > high || high-got > time.Microsecond {
				t.Errorf("Delay(%d, 0.9999999999) = %v, want just under %v", tc.attempt, got, high)
			}
		})
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRetryPolicyDelayEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  domain.RetryPolicy
		attempt int
		rnd     func() float64
		want    time.Duration
	}{
		{
			name:    "full jitter at the bottom of the band gives zero, not a negative delay",
			policy:  domain.RetryPolicy{InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: 1},
			attempt: 1, rnd: constant(0), want: 0,
		},
		{
			name:    "jitter beyond 1 never makes the delay negative",
			policy:  domain.RetryPolicy{InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: 5},
			attempt: 1, rnd: constant(0), want: 0,
		},
		{
			name:    "a zero initial delay stays zero",
			policy:  domain.RetryPolicy{InitialDelay: 0, MaxDelay: time.Minute, BackoffFactor: 2, Jitter: 0.1},
			attempt: 5, rnd: constant(0.9), want: 0,
		},
		{
			name:    "NoJitter gives the exact backoff",
			policy:  domain.RetryPolicy{InitialDelay: time.Second, MaxDelay: time.Minute, BackoffFactor: 3, Jitter: domain.NoJitter},
			attempt: 3, rnd: constant(0), want: 9 * time.Second,
		},
		{
			name:    "a factor of 1 keeps the initial delay",
			policy:  domain.RetryPolicy{InitialDelay: 250 * time.Millisecond, MaxDelay: time.Minute, BackoffFactor: 1, Jitter: domain.NoJitter},
			attempt: 50, rnd: nil, want: 250 * time.Millisecond,
		},
		{
			name:    "a huge attempt on a normalized policy is capped at MaxDelay",
			policy:  domain.RetryPolicy{}.Normalize(),
			attempt: math.MaxInt, rnd: constant(0.5), want: time.Minute,
		},
		{
			name:    "a huge attempt with the largest cap and top jitter saturates instead of overflowing",
			policy:  domain.RetryPolicy{InitialDelay: time.Second, MaxDelay: time.Duration(math.MaxInt64), BackoffFactor: 10, Jitter: 1},
			attempt: 1 << 20, rnd: constant(0.9999999999), want: time.Duration(math.MaxInt64),
		},
		{
			name:    "without a cap and without jitter a huge attempt saturates",
			policy:  domain.RetryPolicy{InitialDelay: time.Second, BackoffFactor: 10},
			attempt: 1 << 20, rnd: nil, want: time.Duration(math.MaxInt64),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.policy.Delay(tc.attempt, tc.rnd); got != tc.want {
				t.Fatalf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

func TestRetryPolicyDelayIsNeverNegativeAndStaysInTheJitterBand(t *testing.T) {
	t.Parallel()
	p := domain.DefaultRetryPolicy()
	for attempt := 1; attempt <= 40; attempt++ {
		base := p.Delay(attempt, nil)
		for _, r := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.999999} {
			got := p.Delay(attempt, constant(r))
			lo := time.Duration(float64(base) * (1 - p.Jitter))
			hi := time.Duration(float64(base) * (1 + p.Jitter))
			if got < 0 || got < lo-time.Nanosecond || got > hi+time.Nanosecond {
				t.Fatalf("Delay(%d, %v) = %v, want within [%v, %v]", attempt, r, got, lo, hi)
			}
		}
	}
}

// stateError is a user error type, listed by its %T name in policies.
type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }

func TestRetryPolicyRetryable(t *testing.T) {
	t.Parallel()
	def := domain.DefaultRetryPolicy()
	declined := domain.NewError("card_declined", "card declined")
	tests := []struct {
		name   string
		policy domain.RetryPolicy
		err    error
		want   bool
	}{
		{"a nil error is not retried", def, nil, false},
		{"a plain error is retried", def, errors.New("boom"), true},
		{"a coded user error is retried by default", def, declined, true},
		{"a Permanent error is not retried", def, domain.Permanent(errors.New("boom")), false},
		{"a wrapped Permanent error is not retried", def, fmt.Errorf("charge: %w", domain.Permanent(declined)), false},
		{"a code listed in NonRetryable is not retried", domain.RetryPolicy{NonRetryable: []string{"card_declined"}}, declined, false},
		{"a twice-wrapped code listed in NonRetryable is not retried", domain.RetryPolicy{NonRetryable: []string{"card_declined"}}, fmt.Errorf("a: %w", fmt.Errorf("b: %w", declined)), false},
		{"a sentinel code listed in NonRetryable is not retried", domain.RetryPolicy{NonRetryable: []string{"not_found"}}, fmt.Errorf("load: %w", domain.ErrNotFound), false},
		{"a Go type name listed in NonRetryable is not retried", domain.RetryPolicy{NonRetryable: []string{"*domain_test.stateError"}}, fmt.Errorf("x: %w", &stateError{"bad"}), false},
		{"the wrapper's type name counts too", domain.RetryPolicy{NonRetryable: []string{"*fmt.wrapError"}}, fmt.Errorf("x: %w", errors.New("y")), false},
		{"an unlisted code is retried", domain.RetryPolicy{NonRetryable: []string{"other"}}, declined, true},
		{"RetryOn retries a listed code", domain.RetryPolicy{RetryOn: []string{"card_declined"}}, declined, true},
		{"RetryOn retries a listed Go type name", domain.RetryPolicy{RetryOn: []string{"*domain_test.stateError"}}, &stateError{"bad"}, true},
		{"RetryOn does not retry an unlisted error", domain.RetryPolicy{RetryOn: []string{"unavailable"}}, declined, false},
		{"RetryOn does not retry an uncoded error", domain.RetryPolicy{RetryOn: []string{"unavailable"}}, errors.New("boom"), false},
		{"NonRetryable wins over RetryOn", domain.RetryPolicy{RetryOn: []string{"card_declined"}, NonRetryable: []string{"card_declined"}}, declined, false},
		{"ErrNonDeterministic is never retried", def, fmt.Errorf("replay: %w", domain.ErrNonDeterministic), false},
		{"ErrSerialization is never retried", def, fmt.Errorf("encode: %w", domain.ErrSerialization), false},
		{"ErrPayloadTooLarge is never retried", def, fmt.Errorf("store: %w", domain.ErrPayloadTooLarge), false},
		{"ErrSerialization is not retried even when RetryOn lists it", domain.RetryPolicy{RetryOn: []string{"serialization"}}, domain.ErrSerialization, false},
		{"a stored never-retryable sentinel stays not retried", def, roundTrip(t, domain.NewTaskError(domain.ErrNonDeterministic, true)), false},
		{"a stored error marked retryable is retried", def, roundTrip(t, domain.NewTaskError(errors.New("boom"), true)), true},
		{"a stored error marked non-retryable stays not retried", def, roundTrip(t, domain.NewTaskError(errors.New("boom"), false)), false},
		{"a wrapped stored non-retryable error stays not retried", def, fmt.Errorf("child failed: %w", roundTrip(t, domain.NewTaskError(declined, false))), false},
		{"a stored code listed in NonRetryable is not retried", domain.RetryPolicy{NonRetryable: []string{"card_declined"}}, roundTrip(t, domain.NewTaskError(declined, true)), false},
		{"a stored panic is retried", def, roundTrip(t, domain.NewPanicError("boom", nil)), true},
		{"a joined error with a Permanent part is not retried", def, errors.Join(errors.New("a"), domain.Permanent(errors.New("b"))), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.policy.Retryable(tc.err); got != tc.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestRetryPolicyJSONRoundTripsWithMillisecondDurations(t *testing.T) {
	t.Parallel()
	p := domain.RetryPolicy{
		MaxAttempts:   5,
		InitialDelay:  1500 * time.Millisecond,
		MaxDelay:      2 * time.Minute,
		BackoffFactor: 1.5,
		Jitter:        0.25,
		RetryOn:       []string{"unavailable"},
		NonRetryable:  []string{"card_declined", "*main.FatalError"},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"max_attempts":5,"initial_delay_ms":1500,"max_delay_ms":120000,"backoff_factor":1.5,"jitter":0.25,"retry_on":["unavailable"],"non_retryable":["card_declined","*main.FatalError"]}`
	if string(b) != want {
		t.Fatalf("json.Marshal = %s, want %s", b, want)
	}
	var back domain.RetryPolicy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip = %+v, want %+v", back, p)
	}

	t.Run("a policy stored before the recovery budget reads as the default budget", func(t *testing.T) {
		t.Parallel()
		var old domain.RetryPolicy
		if err := json.Unmarshal([]byte(`{"max_attempts":3,"initial_delay_ms":1000,"max_delay_ms":60000,"backoff_factor":2,"jitter":0.1}`), &old); err != nil {
			t.Fatal(err)
		}
		if old.MaxRecoveries != 0 || old.RecoveryBudget() != domain.DefaultMaxRecoveries {
			t.Fatalf("MaxRecoveries %d, budget %d; want 0 and %d", old.MaxRecoveries, old.RecoveryBudget(), domain.DefaultMaxRecoveries)
		}
	})
	t.Run("empty lists are omitted", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(domain.DefaultRetryPolicy())
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"max_attempts":3,"initial_delay_ms":1000,"max_delay_ms":60000,"backoff_factor":2,"jitter":0.1,"max_recoveries":100}`
		if string(b) != want {
			t.Fatalf("json.Marshal = %s, want %s", b, want)
		}
	})
	t.Run("sub-millisecond delays survive as fractional milliseconds", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(domain.RetryPolicy{InitialDelay: 1999 * time.Microsecond, MaxDelay: 500 * time.Microsecond})
		if err != nil {
			t.Fatal(err)
		}
		var back domain.RetryPolicy
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.InitialDelay != 1999*time.Microsecond || back.MaxDelay != 500*time.Microsecond {
			t.Fatalf("after round trip (%s): initial %v, max %v; want 1.999ms and 500µs", b, back.InitialDelay, back.MaxDelay)
		}
	})
	t.Run("the policy round-trips inside a task", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(domain.Task{ID: "t", RetryPolicy: p})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"retry_policy":{"max_attempts":5,`) {
			t.Fatalf("task JSON %s does not hold the stored policy shape", b)
		}
		var task domain.Task
		if err := json.Unmarshal(b, &task); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(task.RetryPolicy, p) {
			t.Fatalf("task policy after round trip = %+v, want %+v", task.RetryPolicy, p)
		}
	})
	t.Run("malformed JSON is an error", func(t *testing.T) {
		t.Parallel()
		var back domain.RetryPolicy
		if err := json.Unmarshal([]byte(`{"max_attempts":"three"}`), &back); err == nil {
			t.Fatalf("Unmarshal of a string max_attempts succeeded: %+v", back)
		}
	})
}

// roundTrip stores te as JSON and reads it back, as a store does.
func roundTrip(t *testing.T, te *domain.TaskError) *domain.TaskError {
	t.Helper()
	b, err := json.Marshal(te)
	if err != nil {
		t.Fatalf("marshal %+v: %v", te, err)
	}
	var back domain.TaskError
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return &back
}

func TestRetryPolicyDelayWhenTheBackoffOverflowsFloat64(t *testing.T) {
	t.Parallel()
	// An overflowing backoff saturates at the largest duration, then takes
	// its jitter like any other delay: never NaN, never an immediate retry.
	uncapped := domain.RetryPolicy{InitialDelay: time.Second, BackoffFactor: 10, Jitter: 0.1}
	for _, r := range []float64{0, 0.5, 0.99} {
		low := time.Duration(float64(math.MaxInt64) * 0.9)
		if got := uncapped.Delay(1<<20, constant(r)); got < low {
			t.Errorf("uncapped Delay(1<<20, %v) = %v, want at least %v (the saturated maximum less 10%% jitter)", r, got, low)
		}
	}
	zero := domain.RetryPolicy{InitialDelay: 0, MaxDelay: time.Minute, BackoffFactor: 10, Jitter: domain.NoJitter}
	if got := zero.Delay(400, nil); got != 0 {
		t.Errorf("zero initial delay: Delay(400) = %v, want 0 as for small attempts (Delay(5) = %v)", got, zero.Delay(5, nil))
	}
}

func TestRetryableMatchesTheGoTypeOfAStoredError(t *testing.T) {
	t.Parallel()
	stored := domain.NewTaskError(fmt.Errorf("wrapped: %w", errors.New("x")), true) // Type "*fmt.wrapError"
	p := domain.RetryPolicy{NonRetryable: []string{stored.Type}}.Normalize()
	if p.Retryable(stored) {
		t.Fatalf("a stored error of type %s listed in NonRetryable must not be retried", stored.Type)
	}
	if !domain.DefaultRetryPolicy().Retryable(stored) {
		t.Fatal("without the listing it is retryable")
	}
}
