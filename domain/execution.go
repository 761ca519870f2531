package domain

import (
	"encoding/json"
	"time"
)

// DefaultQueue is the queue of tasks dispatched without one.
const DefaultQueue = "default"

// Execution is one workflow run: the root function, its input and outcome,
// routing, deadline and timestamps. All times are UTC.
type Execution struct {
	ID           string `json:"id"`
	RootFunction string `json:"root_function"`
	RootTaskID   string `json:"root_task_id"`
	// Version is the root function's version when it was dispatched
	// (app.WithVersion); "" when unversioned.
	Version        string          `json:"version,omitempty"`
	State          ExecutionState  `json:"state"`
	Input          json.RawMessage `json:"input,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	Error          *TaskError      `json:"error,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	// SingletonKey, when set, allows at most one live (pending or
	// running) execution with this key: a dispatch while one is live
	// joins it instead of creating another.
	SingletonKey string `json:"singleton_key,omitempty"`
	// DebounceKey, when set, makes a dispatch while a pending (not yet
	// started) execution with this key exists update that execution's
	// input and start time instead of creating another.
	DebounceKey string   `json:"debounce_key,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Priority    int      `json:"priority"`
	Queue       string   `json:"queue"`
	// ScheduledFor is when the root task first becomes claimable (delay or
	// run-at); nil means at once.
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	// Deadline is ScheduledFor (or creation) + max duration; nil: none.
	Deadline   *time.Time `json:"deadline,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// ForkedFrom is the execution this one was forked from (Engine.Fork);
	// empty for a dispatched execution.
	ForkedFrom string `json:"forked_from,omitempty"`
}

// Overdue reports whether the execution is live and past its deadline.
func (e Execution) Overdue(now time.Time) bool {
	return !e.State.Terminal() && e.Deadline != nil && !now.Before(*e.Deadline)
}

// Outcome returns the execution's result in the shape waiters receive:
// a Result with Value for completed, Error for other terminal states, and
// neither while the execution is live.
func (e Execution) Outcome() Result {
	r := Result{ExecutionID: e.ID, State: e.State}
	if e.State == ExecutionCompleted {
		r.Value = e.Result
		if len(r.Value) == 0 {
			r.Value = json.RawMessage("null")
		}
	}
	if e.State.Terminal() && e.State != ExecutionCompleted {
		r.Error = e.Error
		if r.Error == nil {
			r.Error = defaultTerminalError(e.State)
		}
	}
	return r
}

func defaultTerminalError(s ExecutionState) *TaskError {
	switch s {
	case ExecutionCancelled:
		return SentinelError(ErrCancelled, "execution cancelled")
	case ExecutionTimedOut:
		return SentinelError(ErrTimedOut, "execution timed out")
	default:
		return &TaskError{Type: "", Code: GenericErrorCode, Message: "execution " + string(s)}
	}
}

// Result is what a waiter gets for a terminal execution. For a completed
// execution Value holds the JSON result (possibly null, 0 or false); for any
// other terminal state Error is set.
type Result struct {
	ExecutionID string          `json:"execution_id"`
	State       ExecutionState  `json:"state"`
	Value       json.RawMessage `json:"value,omitempty"`
	Error       *TaskError      `json:"error,omitempty"`
}

// Err returns the stored error, or nil for a completed execution. The error
// matches ErrCancelled, ErrTimedOut/ErrExpired or the failing task's codes.
func (r Result) Err() error {
	if r.Error == nil {
		return nil
	}
	return r.Error
}

// OK reports whether the execution completed.
func (r Result) OK() bool { return r.State == ExecutionCompleted }

// ExecutionData is an execution's counters and custom state.
type ExecutionData struct {
	Counters map[string]float64         `json:"counters"`
	State    map[string]json.RawMessage `json:"state"`
}

// DataOpKind says what a DataOp does.
type DataOpKind string

// Data operation kinds.
const (
	OpAddCounter  DataOpKind = "add_counter"  // counters[key] += Number
	OpInitCounter DataOpKind = "init_counter" // counters[key] = Number if absent
	OpSetState    DataOpKind = "set_state"    // state[key] = Value
	OpInitState   DataOpKind = "init_state"   // state[key] = Value if absent
)

// DataOp is one buffered change to an execution's counters or custom state.
// Ops are applied in order, atomically with the write that carries them.
type DataOp struct {
	Kind   DataOpKind      `json:"kind"`
	Key    string          `json:"key"`
	Number float64         `json:"number,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
}

// ProgressEntry is one line of an execution's step timeline, derived from
// its task records.
type ProgressEntry struct {
	TaskID     string     `json:"task_id"`
	ParentID   string     `json:"parent_task_id,omitempty"`
	Position   int        `json:"position"`
	Kind       TaskKind   `json:"kind"`
	Step       string     `json:"step"`
	Version    string     `json:"version,omitempty"`
	Queue      string     `json:"queue,omitempty"`
	State      TaskState  `json:"state"`
	Attempt    int        `json:"attempt"`
	Recoveries int        `json:"recoveries,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      *TaskError `json:"error,omitempty"`
	// ScheduledFor is a sleep's wake-up time, or when a pending task is
	// due.
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	// WakeAt and Awaited: see Task.
	WakeAt  *time.Time `json:"wake_at,omitempty"`
	Awaited bool       `json:"awaited,omitempty"`
	// RateLimitedUntil: see Task.
	RateLimitedUntil *time.Time `json:"rate_limited_until,omitempty"`
	// MaxConcurrent and ConcurrencyKey: see Task.
	MaxConcurrent  int    `json:"max_concurrent,omitempty"`
	ConcurrencyKey string `json:"concurrency_key,omitempty"`
}

// ConcurrencyGroup is Task.ConcurrencyGroup for a timeline entry: the
// group its MaxConcurrent counts ("" when it has no concurrency limit).
func (p ProgressEntry) ConcurrencyGroup() string {
	switch {
	case p.MaxConcurrent <= 0:
		return ""
	case p.ConcurrencyKey != "":
		return p.ConcurrencyKey
	}
	return p.Step
}

// Signal is one message in an execution's mailbox for a name.
type Signal struct {
	ExecutionID string          `json:"execution_id"`
	Name        string          `json:"name"`
	Seq         int64           `json:"seq"`
	Payload     json.RawMessage `json:"payload"`
	ConsumedBy  string          `json:"consumed_by,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	ConsumedAt  *time.Time      `json:"consumed_at,omitempty"`
}

// DeadLetter is a task that failed terminally, kept for inspection, replay
// or discard.
type DeadLetter struct {
	TaskID      string     `json:"task_id"`
	ExecutionID string     `json:"execution_id"`
	StepName    string     `json:"step_name"`
	Kind        TaskKind   `json:"kind"`
	Queue       string     `json:"queue"`
	Reason      string     `json:"reason"`
	Code        string     `json:"code"`
	Error       *TaskError `json:"error,omitempty"`
	Snapshot    Task       `json:"snapshot"`
	MovedAt     time.Time  `json:"moved_at"`
}

// FunctionInfo is a catalogue entry: a durable function some worker
// registered, with its options.
type FunctionInfo struct {
	Name          string      `json:"name"`
	Queue         string      `json:"queue"`
	Tags          []string    `json:"tags,omitempty"`
	Priority      int         `json:"priority"`
	MaxConcurrent int         `json:"max_concurrent"`
	Version       string      `json:"version,omitempty"`
	RetryPolicy   RetryPolicy `json:"retry_policy"`
	Idempotent    bool        `json:"idempotent,omitempty"`
	Cached        bool        `json:"cached,omitempty"`
	LastSeenAt    time.Time   `json:"last_seen_at"`
}
