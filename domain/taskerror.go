package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// GenericErrorCode is the code of an error whose chain carries no code.
const GenericErrorCode = "error"

// PanicErrorCode is the code of a recovered panic.
const PanicErrorCode = "panic"

// TaskError is the stored shape of a task or execution error. It is what a
// Result carries after a round trip through the store, and it keeps
// errors.Is working: it matches any sentinel, CodedError or TaskError whose
// code is one of its Codes (and the ancestors of sentinel codes, so a stored
// "timed_out" matches ErrExpired too).
type TaskError struct {
	// Type names the error for people and retry policies: the Go type
	// (%T, e.g. "*payments.DeclinedError") of the outermost error in the
	// chain that is the user's own, skipping wrappers (fmt.Errorf's,
	// errors.Join's, Permanent) and plain errors.New values; for Stent's
	// own errors and coded errors, their stable code ("not_found",
	// "card_declined"); else "error". Never "*fmt.wrapError".
	Type string `json:"type"`
	// Code is the first ErrorCode() found in the chain, or "error".
	Code string `json:"code"`
	// Codes holds every code found in the chain, outermost first.
	Codes []string `json:"codes,omitempty"`
	// Message is err.Error().
	Message string `json:"message"`
	// Retryable records the retry decision made when the error was stored.
	Retryable bool `json:"retryable"`
	// Details is optional JSON supplied by the error (see ErrorDetails).
	Details json.RawMessage `json:"details,omitempty"`
	// Stack is set for recovered panics.
	Stack string `json:"stack,omitempty"`
}

// Error implements error; it returns the stored message.
func (e *TaskError) Error() string { return e.Message }

// ErrorCode returns the primary code.
func (e *TaskError) ErrorCode() string { return e.Code }

// Is reports whether target's code is among the stored codes, directly or as
// the ancestor of a stored sentinel code. The generic code "error" (an
// error without a code) never matches.
func (e *TaskError) Is(target error) bool {
	c, ok := target.(interface{ ErrorCode() string })
	if !ok {
		return false
	}
	want := c.ErrorCode()
	if want == GenericErrorCode {
		return false // "no code" is not an identity two errors can share
	}
	for _, code := range e.allCodes() {
		if code == want {
			return true
		}
		if s, ok := SentinelByCode(code); ok && errors.Is(s, target) {
			return true
		}
	}
	return false
}

func (e *TaskError) allCodes() []string {
	if len(e.Codes) == 0 {
		return []string{e.Code}
	}
	if slices.Contains(e.Codes, e.Code) {
		return e.Codes
	}
	return append([]string{e.Code}, e.Codes...)
}

// ErrorCodes returns every code in err's chain, outermost first, without
// duplicates. Joined errors and multi-wrapped errors are walked depth first.
func ErrorCodes(err error) []string {
	var codes []string
	walkErrors(err, func(e error) {
		if c, ok := e.(interface{ ErrorCode() string }); ok {
			code := c.ErrorCode()
			if code != "" && !slices.Contains(codes, code) {
				codes = append(codes, code)
			}
		}
		if te, ok := e.(*TaskError); ok {
			for _, code := range te.Codes {
				if !slices.Contains(codes, code) {
					codes = append(codes, code)
				}
			}
		}
	})
	return codes
}

// ErrorTypes returns the Go type names (%T) of every error in err's chain.
func ErrorTypes(err error) []string {
	var types []string
	walkErrors(err, func(e error) {
		t := fmt.Sprintf("%T", e)
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	})
	return types
}

func walkErrors(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, visit)
		}
	}
}

// ErrorDetails can be implemented by user errors to store structured JSON
// details alongside the message.
type ErrorDetails interface {
	ErrorDetails() json.RawMessage
}

// NewTaskError converts err into its stored shape. retryable records the
// retry decision (see RetryPolicy.Retryable). A nil err returns nil. An err
// that already is a *TaskError (possibly wrapped) keeps its codes.
func NewTaskError(err error, retryable bool) *TaskError {
	if err == nil {
		return nil
	}
	codes := ErrorCodes(err)
	te := &TaskError{
		Type:      errorType(err, codes),
		Code:      GenericErrorCode,
		Codes:     codes,
		Message:   err.Error(),
		Retryable: retryable,
	}
	if len(codes) > 0 {
		te.Code = codes[0]
	}
	var d ErrorDetails
	if errors.As(err, &d) {
		if raw := d.ErrorDetails(); json.Valid(raw) {
			te.Details = raw
		}
	}
	var inner *TaskError
	if errors.As(err, &inner) {
		if te.Stack == "" {
			te.Stack = inner.Stack
		}
		if len(te.Details) == 0 {
			te.Details = inner.Details
		}
	}
	return te
}

// NewPanicError stores a recovered panic value with its stack. It has code
// "panic" and is retryable.
func NewPanicError(v any, stack []byte) *TaskError {
	te := &TaskError{
		Type:      fmt.Sprintf("%T", v),
		Code:      PanicErrorCode,
		Codes:     []string{PanicErrorCode},
		Message:   fmt.Sprintf("panic: %v", v),
		Retryable: true,
		Stack:     string(stack),
	}
	if err, ok := v.(error); ok {
		for _, c := range ErrorCodes(err) {
			if !slices.Contains(te.Codes, c) {
				te.Codes = append(te.Codes, c)
			}
		}
	}
	return te
}

// SentinelError returns the stored shape of a sentinel with a custom message,
// e.g. the "execution cancelled" error of a cancelled execution.
func SentinelError(s *Sentinel, message string) *TaskError {
	if message == "" {
		message = s.msg
	}
	return &TaskError{Type: s.code, Code: s.code, Codes: []string{s.code}, Message: message}
}

// stentPkg prefixes the import paths of Stent's own packages.
const stentPkg = "github.com/stenthq/stent/"

// stentOwn reports whether pkg is one of Stent's library packages (whose
// errors are named by their code), not a user's package.
func stentOwn(pkg string) bool {
	switch pkg {
	case stentPkg + "domain", stentPkg + "app", stentPkg + "ports":
		return true
	}
	return strings.HasPrefix(pkg, stentPkg+"adapters/")
}

// errorType is TaskError.Type for err (codes: its chain's codes).
func errorType(err error, codes []string) string {
	name := ""
	walkUntil(err, func(e error) bool {
		t := reflect.TypeOf(e)
		base := t
		if base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		pkg := base.PkgPath()
		switch {
		case pkg == "fmt" || pkg == "errors":
			return true // a wrapper, or a plain errors.New: no name of its own
		case pkg == "github.com/stenthq/stent/domain" && base.Name() == "TaskError":
			if te := e.(*TaskError); te.Type != "" {
				name = te.Type
				return false
			}
			return true
		case stentOwn(pkg):
			if c, ok := e.(interface{ ErrorCode() string }); ok && c.ErrorCode() != "" {
				name = c.ErrorCode()
				return false
			}
			if _, wraps := e.(interface{ Unwrap() error }); wraps {
				return true // a Stent wrapper such as Permanent's
			}
		}
		name = t.String()
		return false
	})
	switch {
	case name != "":
		return name
	case len(codes) > 0:
		return codes[0]
	}
	return GenericErrorCode
}

// walkUntil visits err's chain outermost first, depth first through
// joined errors, until visit returns false.
func walkUntil(err error, visit func(error) bool) bool {
	if err == nil {
		return true
	}
	if !visit(err) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walkUntil(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walkUntil(e, visit) {
				return false
			}
		}
	}
	return true
}
