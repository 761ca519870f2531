package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
)

// allSentinels lists every sentinel of SPEC §1 (plus ErrConflict, used by
// the store port) with its stable code.
var allSentinels = []struct {
	err  *domain.Sentinel
	code string
}{
	{domain.ErrNotFound, "not_found"},
	{domain.ErrStillRunning, "still_running"},
	{domain.ErrDeadline, "deadline"},
	{domain.ErrExpired, "expired"},
	{domain.ErrTimedOut, "timed_out"},
	{domain.ErrSignalTimeout, "signal_timeout"},
	{domain.ErrCancelled, "cancelled"},
	{domain.ErrNonDeterministic, "non_deterministic"},
	{domain.ErrLeaseLost, "lease_lost"},
	{domain.ErrUnregisteredFunction, "unregistered_function"},
	{domain.ErrInvalidDuration, "invalid_duration"},
	{domain.ErrInvalidArgument, "invalid_argument"},
	{domain.ErrSerialization, "serialization"},
	{domain.ErrPayloadTooLarge, "payload_too_large"},
	{domain.ErrExecutionFinished, "execution_finished"},
	{domain.ErrNotInTask, "not_in_task"},
	{domain.ErrInvalidTransition, "invalid_transition"},
	{domain.ErrConflict, "conflict"},
	{domain.ErrUnavailable, "unavailable"},
	{domain.ErrClosed, "closed"},
	{domain.ErrSchemaVersion, "schema_version"},
}

var snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

func TestEverySentinelHasAStableSnakeCaseCode(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range allSentinels {
		t.Run(s.code, func(t *testing.T) {
			t.Parallel()
			if got := s.err.ErrorCode(); got != s.code {
				t.Errorf("ErrorCode() = %q, want %q", got, s.code)
			}
			if !snakeCase.MatchString(s.code) {
				t.Errorf("code %q is not snake_case", s.code)
			}
			if got, ok := domain.SentinelByCode(s.code); !ok || got != s.err {
				t.Errorf("SentinelByCode(%q) = %v, %v; want the sentinel itself", s.code, got, ok)
			}
			if msg := s.err.Error(); !strings.HasPrefix(msg, "stent: ") || len(msg) <= len("stent: ") {
				t.Errorf("Error() = %q, want a message prefixed with %q", msg, "stent: ")
			}
			if !errors.Is(fmt.Errorf("ctx: %w", s.err), s.err) {
				t.Errorf("a wrapped %s does not match itself", s.code)
			}
		})
		if seen[s.code] {
			t.Errorf("code %q is used twice", s.code)
		}
		seen[s.code] = true
	}
	if _, ok := domain.SentinelByCode("no_such_code"); ok {
		t.Error(`SentinelByCode("no_such_code") found a sentinel`)
	}
}

func TestSentinelParents(t *testing.T) {
	t.Parallel()
	for _, s := range allSentinels {
		for _, target := range allSentinels {
			want := s.err == target.err ||
				(s.err == domain.ErrExpired && target.err == domain.ErrDeadline) ||
				(s.err == domain.ErrTimedOut && target.err == domain.ErrDeadline) ||
				(s.err == domain.ErrSignalTimeout && (target.err == domain.ErrExpired || target.err == domain.ErrDeadline)) ||
				(s.err == domain.ErrInvalidDuration && target.err == domain.ErrInvalidArgument)
			if got := errors.Is(s.err, target.err); got != want {
				t.Errorf("errors.Is(%s, %s) = %v, want %v", s.code, target.code, got, want)
			}
		}
	}
}

func TestCodedErrorMatchesByCode(t *testing.T) {
	t.Parallel()
	err := domain.NewError("card_declined", "card declined: insufficient funds")
	if err.Error() != "card declined: insufficient funds" {
		t.Errorf("Error() = %q", err.Error())
	}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"another error with the same code matches", err, domain.NewError("card_declined", "other text"), true},
		{"a twice-wrapped error matches", fmt.Errorf("a: %w", fmt.Errorf("b: %w", err)), domain.NewError("card_declined", ""), true},
		{"another code does not match", err, domain.NewError("card_expired", "card declined: insufficient funds"), false},
		{"a sentinel with another code does not match", err, domain.ErrNotFound, false},
		{"a user code equal to a sentinel code matches the sentinel", domain.NewError("not_found", "no such card"), domain.ErrNotFound, true},
		{"an uncoded error does not match", err, errors.New("card_declined"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := errors.Is(tc.err, tc.target); got != tc.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", tc.err, tc.target, got, tc.want)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	if domain.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
	inner := &stateError{"bad state"}
	err := fmt.Errorf("step: %w", domain.Permanent(fmt.Errorf("load: %w", inner)))
	if !domain.IsPermanent(err) {
		t.Error("IsPermanent of a wrapped Permanent error is false")
	}
	if domain.IsPermanent(inner) || domain.IsPermanent(nil) {
		t.Error("IsPermanent is true for an unmarked or nil error")
	}
	var se *stateError
	if !errors.As(err, &se) || se != inner {
		t.Error("errors.As does not see through Permanent")
	}
	if !errors.Is(domain.Permanent(domain.ErrNotFound), domain.ErrNotFound) {
		t.Error("errors.Is does not see through Permanent")
	}
	if got := domain.Permanent(errors.New("x")).Error(); got != "x" {
		t.Errorf("Permanent keeps the message: got %q", got)
	}
}

func TestTransitionErrorNamesBothStates(t *testing.T) {
	t.Parallel()
	err := domain.CheckExecutionTransition(domain.ExecutionCompleted, domain.ExecutionTimedOut)
	const want = `stent: invalid execution transition from "completed" to "timed_out"`
	if err == nil || err.Error() != want {
		t.Fatalf("CheckExecutionTransition(completed, timed_out) = %v, want %q", err, want)
	}
	if !errors.Is(err, domain.ErrInvalidTransition) {
		t.Error("a TransitionError does not match ErrInvalidTransition")
	}
	if errors.Is(err, domain.ErrInvalidArgument) {
		t.Error("a TransitionError matches ErrInvalidArgument")
	}
	var te *domain.TransitionError
	if !errors.As(err, &te) || te.Entity != "execution" || te.From != "completed" || te.To != "timed_out" {
		t.Fatalf("errors.As gives %+v", te)
	}
	if te.ErrorCode() != "invalid_transition" {
		t.Errorf("ErrorCode() = %q", te.ErrorCode())
	}
	stored := roundTrip(t, domain.NewTaskError(fmt.Errorf("cas: %w", err), false))
	if !errors.Is(stored, domain.ErrInvalidTransition) {
		t.Errorf("a stored TransitionError does not match ErrInvalidTransition: %+v", stored)
	}
	taskErr := domain.CheckTaskTransition(domain.TaskCompleted, domain.TaskRunning)
	if taskErr == nil || taskErr.Error() != `stent: invalid task transition from "completed" to "running"` {
		t.Fatalf("CheckTaskTransition(completed, running) = %v", taskErr)
	}
}

func TestInvalidArgument(t *testing.T) {
	t.Parallel()
	err := domain.InvalidArgument("limit %d; must not be negative", -1)
	if err.Error() != "stent: limit -1; must not be negative" {
		t.Errorf("Error() = %q", err.Error())
	}
	if !errors.Is(err, domain.ErrInvalidArgument) || errors.Is(err, domain.ErrInvalidDuration) {
		t.Error("InvalidArgument must match ErrInvalidArgument only")
	}
	stored := roundTrip(t, domain.NewTaskError(err, false))
	if stored.Code != "invalid_argument" || !errors.Is(stored, domain.ErrInvalidArgument) {
		t.Errorf("stored InvalidArgument = %+v", stored)
	}
}

// detailedError supplies JSON details to be stored with the message.
type detailedError struct{ field string }

func (e *detailedError) Error() string     { return "invalid field " + e.field }
func (e *detailedError) ErrorCode() string { return "validation" }
func (e *detailedError) ErrorDetails() json.RawMessage {
	return json.RawMessage(`{"field":"` + e.field + `"}`)
}
