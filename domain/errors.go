package domain

import (
	"errors"
	"fmt"
)

// Sentinel is one of Stent's well-known error values. Each carries a stable
// snake_case code that survives being stored and read back (see TaskError).
// A sentinel may have a parent it also matches: ErrExpired and ErrTimedOut
// both match ErrDeadline, ErrSignalTimeout matches ErrExpired (and so
// ErrDeadline), ErrInvalidDuration matches ErrInvalidArgument.
type Sentinel struct {
	code   string
	msg    string
	parent *Sentinel
}

func newSentinel(code, msg string, parent *Sentinel) *Sentinel {
	s := &Sentinel{code: code, msg: msg, parent: parent}
	sentinels[code] = s
	return s
}

var sentinels = map[string]*Sentinel{}

// Error implements error.
func (s *Sentinel) Error() string { return "stent: " + s.msg }

// ErrorCode returns the sentinel's stable code, e.g. "not_found".
func (s *Sentinel) ErrorCode() string { return s.code }

// Is reports whether target is one of the sentinel's ancestors.
func (s *Sentinel) Is(target error) bool {
	for p := s.parent; p != nil; p = p.parent {
		if p == target {
			return true
		}
	}
	return false
}

// SentinelByCode returns the sentinel declared with code, if any.
func SentinelByCode(code string) (*Sentinel, bool) {
	s, ok := sentinels[code]
	return s, ok
}

// The sentinel errors: their one home. Package app re-exports the same
// values for users; every other package uses these.
var (
	ErrNotFound     = newSentinel("not_found", "not found", nil)
	ErrStillRunning = newSentinel("still_running", "execution still running", nil)
	// ErrDeadline is the common parent of the two ways a time limit runs
	// out: a wait (ErrExpired) and an execution (ErrTimedOut).
	ErrDeadline = newSentinel("deadline", "deadline passed", nil)
	// ErrExpired is a wait that ran out (WaitFor's timeout or ctx
	// deadline, a signal wait's WithSignalTimeout); the thing waited for
	// may still finish. It does not match ErrTimedOut.
	ErrExpired = newSentinel("expired", "expired", ErrDeadline)
	// ErrTimedOut is an execution that ran past its deadline
	// (WithMaxDuration): it ended for good. It does not match ErrExpired.
	ErrTimedOut = newSentinel("timed_out", "execution timed out", ErrDeadline)
	// ErrSignalTimeout is a WaitForSignal whose WithSignalTimeout ran out
	// before a signal arrived; it matches ErrExpired.
	ErrSignalTimeout        = newSentinel("signal_timeout", "signal wait timed out", ErrExpired)
	ErrCancelled            = newSentinel("cancelled", "execution cancelled", nil)
	ErrNonDeterministic     = newSentinel("non_deterministic", "non-deterministic replay", nil)
	ErrLeaseLost            = newSentinel("lease_lost", "lease lost", nil)
	ErrUnregisteredFunction = newSentinel("unregistered_function", "unregistered function", nil)
	ErrInvalidArgument      = newSentinel("invalid_argument", "invalid argument", nil)
	ErrInvalidDuration      = newSentinel("invalid_duration", "invalid duration", ErrInvalidArgument)
	ErrSerialization        = newSentinel("serialization", "serialization failed", nil)
	ErrPayloadTooLarge      = newSentinel("payload_too_large", "payload too large", nil)
	ErrExecutionFinished    = newSentinel("execution_finished", "execution already finished", nil)
	ErrNotInTask            = newSentinel("not_in_task", "not inside a running task", nil)
	ErrInvalidTransition    = newSentinel("invalid_transition", "invalid state transition", nil)
	ErrConflict             = newSentinel("conflict", "conflict", nil)
	ErrUnavailable          = newSentinel("unavailable", "store unavailable", nil)
	ErrClosed               = newSentinel("closed", "closed", nil)
	ErrSchemaVersion        = newSentinel("schema_version", "schema version mismatch", nil)
)

// CodedError is a user error with a stable code, created by NewError. It
// survives a round trip through the store: errors.Is(storedErr, e) holds for
// any CodedError with the same code.
type CodedError struct {
	Code    string
	Message string
}

// NewError returns an error with a stable code, for user code that wants to
// be matched after a round trip (errors.Is) or listed in
// RetryPolicy.NonRetryable.
func NewError(code, message string) error { return &CodedError{Code: code, Message: message} }

// Error implements error.
func (e *CodedError) Error() string { return e.Message }

// ErrorCode returns the code.
func (e *CodedError) ErrorCode() string { return e.Code }

// Is matches any error carrying the same code.
func (e *CodedError) Is(target error) bool {
	c, ok := target.(interface{ ErrorCode() string })
	return ok && c.ErrorCode() == e.Code
}

// permanentError marks an error non-retryable.
type permanentError struct{ err error }

func (p *permanentError) Error() string   { return p.err.Error() }
func (p *permanentError) Unwrap() error   { return p.err }
func (p *permanentError) Permanent() bool { return true }

// Permanent marks err as non-retryable: the task fails on this attempt and
// is dead-lettered. errors.Is and errors.As still see through it. A nil err
// stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err's chain holds an error marked Permanent.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// TransitionError reports a state change the state machine forbids.
type TransitionError struct {
	Entity string // "execution" or "task"
	// Op names the operation (see Transition), when one was attempted.
	Op   string
	From string
	To   string
}

// Error implements error.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("stent: invalid %s transition from %q to %q", e.Entity, e.From, e.To)
	if e.Op != "" {
		msg += " (" + e.Op + ")"
	}
	return msg
}

// Is matches ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// ErrorCode returns "invalid_transition".
func (e *TransitionError) ErrorCode() string { return ErrInvalidTransition.code }

// InvalidArgument returns an error matching ErrInvalidArgument whose message
// names the bad value and what is allowed.
func InvalidArgument(format string, args ...any) error {
	return &argumentError{msg: fmt.Sprintf(format, args...)}
}

type argumentError struct{ msg string }

func (e *argumentError) Error() string        { return "stent: " + e.msg }
func (e *argumentError) Is(target error) bool { return target == ErrInvalidArgument }
func (e *argumentError) ErrorCode() string    { return ErrInvalidArgument.code }
