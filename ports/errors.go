package ports

import "github.com/stenthq/stent/domain"

// Port errors: the same values as the domain sentinels, re-exported so an
// adapter can depend on ports alone.
var (
	// ErrNotFound: the execution, task, dead letter or record does not exist.
	ErrNotFound = domain.ErrNotFound
	// ErrLeaseLost: a fenced write did not match the task's current claim
	// (not running, another worker, another claim token). Nothing was written.
	ErrLeaseLost = domain.ErrLeaseLost
	// ErrConflict: a uniqueness rule rejected the write (e.g. a caller-chosen
	// id reused for a different function).
	ErrConflict = domain.ErrConflict
	// ErrInvalidTransition: a state precondition failed; nothing was written.
	ErrInvalidTransition = domain.ErrInvalidTransition
	// ErrExecutionFinished: the execution is terminal (signal, replay of a
	// non-root task).
	ErrExecutionFinished = domain.ErrExecutionFinished
	// ErrInvalidArgument: a parameter is out of range (negative limit or
	// lease, unknown state name, malformed DSN). The message names the value.
	ErrInvalidArgument = domain.ErrInvalidArgument
	// ErrUnavailable: the backend could not be reached or the connection was
	// lost.
	ErrUnavailable = domain.ErrUnavailable
	// ErrClosed: the adapter was used after Close.
	ErrClosed = domain.ErrClosed
	// ErrSchemaVersion: the database schema is older or newer than the code.
	ErrSchemaVersion = domain.ErrSchemaVersion
)
