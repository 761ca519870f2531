package domain

// DispatchOutcome says what a dispatch did.
type DispatchOutcome string

const (
	// DispatchCreated: a new execution was written.
	DispatchCreated DispatchOutcome = "created"
	// DispatchExisting: the execution id or idempotency key was already
	// used; nothing was written and the id is that execution's.
	DispatchExisting DispatchOutcome = "existing"
	// DispatchJoined: a live execution holds the singleton key; nothing
	// was written and the id is the live execution's.
	DispatchJoined DispatchOutcome = "joined"
	// DispatchDebounced: a pending execution holds the debounce key; its
	// input, start time and deadline were replaced by this dispatch's,
	// and the id is that execution's.
	DispatchDebounced DispatchOutcome = "debounced"
)
