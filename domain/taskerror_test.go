package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestTaskErrorRoundTripKeepsErrorsIs(t *testing.T) {
	t.Parallel()
	declined := domain.NewError("card_declined", "card declined")
	tests := []struct {
		name      string
		err       error
		retryable bool
		code      string
		matches   []error
		notMatch  []error
	}{
		{
			name: "a wrapped sentinel matches the sentinel",
			err:  fmt.Errorf("wait: %w", domain.ErrCancelled), retryable: false, code: "cancelled",
			matches:  []error{domain.ErrCancelled},
			notMatch: []error{domain.ErrExpired, domain.ErrNotFound},
		},
		{
			name: "a stored timeout matches ErrTimedOut and ErrDeadline, not ErrExpired",
			err:  domain.ErrTimedOut, code: "timed_out",
			matches:  []error{domain.ErrTimedOut, domain.ErrDeadline},
			notMatch: []error{domain.ErrCancelled, domain.ErrExpired},
		},
		{
			name: "a stored expiry does not match the narrower ErrTimedOut",
			err:  domain.ErrExpired, code: "expired",
			matches:  []error{domain.ErrExpired, domain.ErrDeadline},
			notMatch: []error{domain.ErrTimedOut},
		},
		{
			name: "a stored signal timeout matches ErrSignalTimeout, ErrExpired and ErrDeadline",
			err:  domain.ErrSignalTimeout, code: "signal_timeout",
			matches:  []error{domain.ErrSignalTimeout, domain.ErrExpired, domain.ErrDeadline},
			notMatch: []error{domain.ErrTimedOut},
		},
		{
			name: "a duration error matches ErrInvalidDuration and ErrInvalidArgument",
			err:  durationError(t, "10x"), code: "invalid_duration",
			matches: []error{domain.ErrInvalidDuration, domain.ErrInvalidArgument},
		},
		{
			name: "a twice-wrapped user code matches a user error with that code",
			err:  fmt.Errorf("order: %w", fmt.Errorf("charge: %w", declined)), retryable: true, code: "card_declined",
			matches:  []error{declined, domain.NewError("card_declined", "any message")},
			notMatch: []error{domain.NewError("card_expired", "card declined"), domain.ErrNotFound},
		},
		{
			name: "every code in the chain is kept",
			err:  fmt.Errorf("outer: %w", errors.Join(declined, domain.ErrUnavailable)), retryable: true, code: "card_declined",
			matches: []error{declined, domain.ErrUnavailable},
		},
		{
			name: "a Permanent error keeps its code",
			err:  domain.Permanent(fmt.Errorf("charge: %w", declined)), code: "card_declined",
			matches: []error{declined},
		},
		{
			name: "an uncoded error gets the generic code",
			err:  errors.New("boom"), retryable: true, code: "error",
			notMatch: []error{domain.ErrNotFound, declined, errors.New("boom")},
		},
		{
			name: "a stored error stored again keeps its codes",
			err:  fmt.Errorf("child: %w", roundTrip(t, domain.NewTaskError(fmt.Errorf("x: %w", domain.ErrTimedOut), false))), code: "timed_out",
			matches: []error{domain.ErrTimedOut, domain.ErrDeadline},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := roundTrip(t, domain.NewTaskError(tc.err, tc.retryable))
			if stored.Code != tc.code {
				t.Errorf("Code = %q, want %q", stored.Code, tc.code)
			}
			if stored.Message != tc.err.Error() {
				t.Errorf("Message = %q, want %q", stored.Message, tc.err.Error())
			}
			if stored.Type != tc.code { // Stent's and coded errors are named by their code
				t.Errorf("Type = %q, want %q", stored.Type, tc.code)
			}
			if stored.Retryable != tc.retryable {
				t.Errorf("Retryable = %v, want %v", stored.Retryable, tc.retryable)
			}
			var asErr error = stored
			for _, target := range tc.matches {
				if !errors.Is(asErr, target) {
					t.Errorf("stored error %+v does not match %v", stored, target)
				}
				if !errors.Is(fmt.Errorf("wrapped again: %w", asErr), target) {
					t.Errorf("wrapped stored error does not match %v", target)
				}
			}
			for _, target := range tc.notMatch {
				if errors.Is(asErr, target) {
					t.Errorf("stored error %+v matches %v", stored, target)
				}
			}
		})
	}
}

func durationError(t *testing.T, s string) error {
	t.Helper()
	_, err := domain.ParseDuration(s)
	if err == nil {
		t.Fatalf("ParseDuration(%q) succeeded", s)
	}
	return err
}

func TestTaskErrorOfAPermanentErrorIsNotRetryableAfterARoundTrip(t *testing.T) {
	t.Parallel()
	policy := domain.DefaultRetryPolicy()
	err := fmt.Errorf("charge: %w", domain.Permanent(domain.NewError("card_declined", "declined")))
	stored := roundTrip(t, domain.NewTaskError(err, policy.Retryable(err)))
	if stored.Retryable {
		t.Fatal("a Permanent error was stored as retryable")
	}
	if policy.Retryable(stored) {
		t.Fatal("a stored Permanent error is retryable after the round trip")
	}
	if !errors.Is(stored, domain.NewError("card_declined", "")) {
		t.Fatal("a stored Permanent error lost its code")
	}
}

func TestPanicErrorRoundTrip(t *testing.T) {
	t.Parallel()
	stack := []byte("goroutine 7 [running]:\nmain.charge(...)\n\t/src/charge.go:12 +0x1d\n")
	t.Run("a panic value is stored with code panic and its stack", func(t *testing.T) {
		t.Parallel()
		stored := roundTrip(t, domain.NewPanicError("index out of range", stack))
		want := &domain.TaskError{
			Type:      "string",
			Code:      "panic",
			Codes:     []string{"panic"},
			Message:   "panic: index out of range",
			Retryable: true,
			Stack:     string(stack),
		}
		if !reflect.DeepEqual(stored, want) {
			t.Fatalf("stored panic = %+v, want %+v", stored, want)
		}
		if !errors.Is(stored, domain.NewError("panic", "")) {
			t.Error("a stored panic does not match the code panic")
		}
		if !domain.DefaultRetryPolicy().Retryable(stored) {
			t.Error("a stored panic is not retryable")
		}
	})
	t.Run("a panic with an error value keeps the error's codes", func(t *testing.T) {
		t.Parallel()
		stored := roundTrip(t, domain.NewPanicError(fmt.Errorf("x: %w", domain.ErrLeaseLost), stack))
		if stored.Code != "panic" || !slices.Equal(stored.Codes, []string{"panic", "lease_lost"}) {
			t.Fatalf("codes = %q %q, want panic then lease_lost", stored.Code, stored.Codes)
		}
		if !errors.Is(stored, domain.ErrLeaseLost) {
			t.Error("a stored panic(err) does not match err's sentinel")
		}
		if stored.Stack != string(stack) {
			t.Error("stack lost")
		}
	})
	t.Run("re-storing a wrapped panic keeps the stack", func(t *testing.T) {
		t.Parallel()
		child := roundTrip(t, domain.NewPanicError("boom", stack))
		parent := roundTrip(t, domain.NewTaskError(fmt.Errorf("child failed: %w", child), true))
		if parent.Stack != string(stack) {
			t.Errorf("stack = %q, want the child's", parent.Stack)
		}
		if parent.Code != "panic" {
			t.Errorf("code = %q, want panic", parent.Code)
		}
	})
}

func TestTaskErrorDetails(t *testing.T) {
	t.Parallel()
	stored := roundTrip(t, domain.NewTaskError(fmt.Errorf("save: %w", &detailedError{"email"}), false))
	if string(stored.Details) != `{"field":"email"}` {
		t.Fatalf("Details = %s", stored.Details)
	}
	if stored.Code != "validation" {
		t.Fatalf("Code = %q", stored.Code)
	}
	again := roundTrip(t, domain.NewTaskError(fmt.Errorf("parent: %w", stored), false))
	if string(again.Details) != `{"field":"email"}` {
		t.Fatalf("Details after re-storing = %s", again.Details)
	}
}

func TestNewTaskErrorOfNilIsNil(t *testing.T) {
	t.Parallel()
	if te := domain.NewTaskError(nil, true); te != nil {
		t.Fatalf("NewTaskError(nil) = %+v", te)
	}
}

func TestTaskErrorJSONShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(domain.NewTaskError(fmt.Errorf("load: %w", domain.ErrNotFound), false))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"type":"not_found","code":"not_found","codes":["not_found"],"message":"load: stent: not found","retryable":false}`
	if string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
}

func TestSentinelError(t *testing.T) {
	t.Parallel()
	te := roundTrip(t, domain.SentinelError(domain.ErrCancelled, "execution cancelled by operator"))
	if te.Message != "execution cancelled by operator" || te.Code != "cancelled" {
		t.Fatalf("SentinelError = %+v", te)
	}
	if !errors.Is(te, domain.ErrCancelled) {
		t.Fatal("SentinelError does not match its sentinel")
	}
	if def := domain.SentinelError(domain.ErrTimedOut, ""); def.Message != domain.ErrTimedOut.Error()[len("stent: "):] || !errors.Is(def, domain.ErrDeadline) {
		t.Fatalf("SentinelError with an empty message = %+v", def)
	}
}

func TestErrorCodesAndTypesWalkTheChain(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("a: %w", errors.Join(domain.NewError("x", "x"), fmt.Errorf("b: %w", domain.ErrNotFound), domain.NewError("x", "dup")))
	if got := domain.ErrorCodes(err); !slices.Equal(got, []string{"x", "not_found"}) {
		t.Errorf("ErrorCodes = %q, want [x not_found]", got)
	}
	types := domain.ErrorTypes(err)
	for _, want := range []string{"*fmt.wrapError", "*errors.joinError", "*domain.CodedError", "*domain.Sentinel"} {
		if !slices.Contains(types, want) {
			t.Errorf("ErrorTypes = %q, missing %q", types, want)
		}
	}
	if domain.ErrorCodes(nil) != nil || domain.ErrorTypes(nil) != nil {
		t.Error("ErrorCodes/ErrorTypes of nil are not empty")
	}
}

func TestStoredErrorsWithoutACodeDoNotMatchEachOther(t *testing.T) {
	t.Parallel()
	a := domain.NewTaskError(errors.New("a"), true)
	b := domain.NewTaskError(errors.New("b"), true)
	if errors.Is(a, b) || errors.Is(a, domain.NewError(domain.GenericErrorCode, "x")) {
		t.Fatal(`two errors without a code must not match through the generic code "error"`)
	}
}

// declinedError is a user's own error type.
type declinedError struct{ reason string }

func (e *declinedError) Error() string { return "declined: " + e.reason }

func TestTheStoredTypeIsTheUsersTypeOrAStableCode(t *testing.T) {
	t.Parallel()
	user := &declinedError{"insufficient funds"}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a user's error type is named", user, "*domain_test.declinedError"},
		{"a wrapped user's error type is named, not the wrapper", fmt.Errorf("charge: %w", fmt.Errorf("card: %w", user)), "*domain_test.declinedError"},
		{"a Permanent user error keeps its type", domain.Permanent(fmt.Errorf("charge: %w", user)), "*domain_test.declinedError"},
		{"a joined error names the first user type", errors.Join(errors.New("a"), user), "*domain_test.declinedError"},
		{"a plain wrapped error is named error", fmt.Errorf("load: %w", errors.New("boom")), "error"},
		{"a wrapped sentinel is named by its code", fmt.Errorf("load: %w", domain.ErrNotFound), "not_found"},
		{"a wrapped coded error is named by its code", fmt.Errorf("x: %w", domain.NewError("card_declined", "no")), "card_declined"},
		{"an invalid argument is named by its code", fmt.Errorf("x: %w", domain.InvalidArgument("bad")), "invalid_argument"},
		{"a stored error keeps its stored type", fmt.Errorf("child: %w", roundTrip(t, domain.NewTaskError(user, true))), "*domain_test.declinedError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := roundTrip(t, domain.NewTaskError(tc.err, true)).Type
			if got != tc.want {
				t.Errorf("Type = %q; want %q", got, tc.want)
			}
			if strings.Contains(got, "wrapError") || strings.Contains(got, "joinError") || strings.Contains(got, "errorString") {
				t.Errorf("Type = %q names a wrapper", got)
			}
		})
	}
	if got := domain.SentinelError(domain.ErrCancelled, "by operator").Type; got != "cancelled" {
		t.Errorf("SentinelError Type = %q; want the code", got)
	}
}
