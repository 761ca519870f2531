package app

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stenthq/stent/domain"
)

// The sentinel errors, the same values as in package domain.
//
// Time limits: ErrExpired is a wait that ran out (WaitFor, Await with
// WithWaitTimeout or a ctx deadline; WaitForSignal with WithSignalTimeout,
// whose error is ErrSignalTimeout, which matches ErrExpired): what was
// waited for may still happen. ErrTimedOut is an execution that ran past
// its WithMaxDuration deadline and ended for good. The two are distinct
// (ErrTimedOut no longer matches ErrExpired); both match ErrDeadline, for
// callers that treat any time limit alike.
var (
	ErrNotFound             = domain.ErrNotFound
	ErrStillRunning         = domain.ErrStillRunning
	ErrDeadline             = domain.ErrDeadline
	ErrExpired              = domain.ErrExpired
	ErrTimedOut             = domain.ErrTimedOut
	ErrSignalTimeout        = domain.ErrSignalTimeout
	ErrCancelled            = domain.ErrCancelled
	ErrNonDeterministic     = domain.ErrNonDeterministic
	ErrLeaseLost            = domain.ErrLeaseLost
	ErrUnregisteredFunction = domain.ErrUnregisteredFunction
	ErrInvalidDuration      = domain.ErrInvalidDuration
	ErrInvalidArgument      = domain.ErrInvalidArgument
	ErrSerialization        = domain.ErrSerialization
	ErrPayloadTooLarge      = domain.ErrPayloadTooLarge
	ErrExecutionFinished    = domain.ErrExecutionFinished
	ErrNotInTask            = domain.ErrNotInTask
	ErrInvalidTransition    = domain.ErrInvalidTransition
	ErrConflict             = domain.ErrConflict
	ErrUnavailable          = domain.ErrUnavailable
	ErrClosed               = domain.ErrClosed
	ErrSchemaVersion        = domain.ErrSchemaVersion
)

// Permanent marks err as non-retryable: the task fails on this attempt and
// is dead-lettered. errors.Is and errors.As still see through it.
func Permanent(err error) error { return domain.Permanent(err) }

// NewError returns a user error with a stable code that survives the round
// trip through the store (errors.Is matches it on the stored result) and
// can be listed in RetryPolicy.NonRetryable.
func NewError(code, message string) error { return domain.NewError(code, message) }

// UnregisteredFunctionError reports a function the engine cannot run: a
// name no registry (nor the workers' catalogue) knows, or a typed handle
// from another registry whose body differs from the function registered
// under its name (Other).
type UnregisteredFunctionError struct {
	Name       string
	Registered []string
	// Other is set when a function called Name is registered, but it is
	// not the handle's function.
	Other bool
}

// maxListedNames bounds the names an UnregisteredFunctionError lists.
const maxListedNames = 20

// Error implements error. It lists at most 20 registered names.
func (e *UnregisteredFunctionError) Error() string {
	names := e.Registered
	more := ""
	if len(names) > maxListedNames {
		more = fmt.Sprintf(" and %d more", len(names)-maxListedNames)
		names = names[:maxListedNames]
	}
	reg := strings.Join(names, ", ") + more
	if reg == "" {
		reg = "(none)"
	}
	if e.Other {
		return fmt.Sprintf("stent: the function %q is not the one this engine's registry holds under that name (a handle from another registry?); registered: %s", e.Name, reg)
	}
	return fmt.Sprintf("stent: no durable function registered as %q; registered: %s", e.Name, reg)
}

// Is matches ErrUnregisteredFunction.
func (e *UnregisteredFunctionError) Is(target error) bool { return target == ErrUnregisteredFunction }

// ErrorCode returns "unregistered_function".
func (e *UnregisteredFunctionError) ErrorCode() string { return ErrUnregisteredFunction.ErrorCode() }

// NonDeterminismError reports that a re-run issued a different step at a
// position than the recorded one (code changed between runs). Its message
// names the call number and both names, and ends with a hint (see Hint).
type NonDeterminismError struct {
	Call     int
	Recorded string
	Now      string
}

// Error implements error.
func (e *NonDeterminismError) Error() string {
	return fmt.Sprintf("stent: non-deterministic replay at call #%d: recorded %q, now %q; %s", e.Call, e.Recorded, e.Now, e.Hint())
}

// Hint says how to change code without breaking recorded runs: guard the
// change with a patch marker (Patched), or, when the recorded step is a
// marker the code no longer checks, keep the check or use Deprecate.
func (e *NonDeterminismError) Hint() string {
	if id, ok := strings.CutPrefix(e.Recorded, domain.PatchStepName("")); ok {
		return fmt.Sprintf("the run passed app.Patched(ctx, %q) here: keep that check, or replace it with app.Deprecate(ctx, %q)", id, id)
	}
	return `if the code changed on purpose, guard the change with app.Patched(ctx, "change-id") so that runs recorded before it keep the old path`
}

// Is matches ErrNonDeterministic.
func (e *NonDeterminismError) Is(target error) bool { return target == ErrNonDeterministic }

// ErrorCode returns "non_deterministic".
func (e *NonDeterminismError) ErrorCode() string { return ErrNonDeterministic.ErrorCode() }

// Permanent reports true: replaying the same code hits the same mismatch.
func (e *NonDeterminismError) Permanent() bool { return true }

// ErrorDetails stores the call number and both names with the failure
// ({"call":2,"recorded":"charge","now":"receipt"}), so tools (stent
// replay) read them without parsing the message.
func (e *NonDeterminismError) ErrorDetails() json.RawMessage {
	b, _ := json.Marshal(struct {
		Call     int    `json:"call"`
		Recorded string `json:"recorded"`
		Now      string `json:"now"`
	}{e.Call, e.Recorded, e.Now})
	return b
}

// expiredError is what a wait that ran out returns: it names the id and
// matches ErrExpired (and ErrDeadline), plus the context's error when the
// context ended.
type expiredError struct {
	what string
	id   string
	ctx  error
}

func (e *expiredError) Error() string {
	return fmt.Sprintf("stent: waiting for %s %q: %s", e.what, e.id, "expired before it finished")
}

// Is matches ErrExpired and its parent ErrDeadline.
func (e *expiredError) Is(target error) bool { return target == ErrExpired || ErrExpired.Is(target) }

func (e *expiredError) Unwrap() error { return e.ctx }

func (e *expiredError) ErrorCode() string { return ErrExpired.ErrorCode() }
