package domain

import (
	"encoding/json"
	"time"
)

// Task is a unit of work: the root of an execution, a child call, a sleep, a
// signal wait or a link. All times are UTC.
type Task struct {
	ID           string   `json:"id"`
	ExecutionID  string   `json:"execution_id"`
	ParentTaskID string   `json:"parent_task_id,omitempty"`
	Position     int      `json:"position"` // 1-based call number within the parent; 0 for a root
	Kind         TaskKind `json:"kind"`
	// StepName is the durable function's name; "signal:<name>" for a
	// signal step and "stent.sleep" for a sleep.
	StepName string `json:"step_name"`
	// Version is the function version (app.WithVersion) the step's
	// function had in the registry that created the record; "" when
	// unversioned. A strict worker claims it only if its registry has
	// StepName at this version.
	Version   string          `json:"version,omitempty"`
	State     TaskState       `json:"state"`
	Input     json.RawMessage `json:"input,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *TaskError      `json:"error,omitempty"`
	LastError *TaskError      `json:"last_error,omitempty"`
	// Attempt counts the fresh runs of user code: the first claim and each
	// claim after a retry or a replay. Resuming a parked task and
	// reclaiming a task whose worker was lost do not count (see
	// Recoveries): RetryPolicy.MaxAttempts bounds failures of user code
	// only.
	Attempt int `json:"attempt"`
	// Recoveries counts the reclaims after a lost lease (a crashed, killed
	// or partitioned worker), bounded by RetryPolicy.MaxRecoveries.
	Recoveries int `json:"recoveries"`
	// Generation is bumped when the task re-runs after a failure (retry,
	// replay), never after a crash.
	Generation int `json:"generation"`
	// ParentGeneration is the parent's generation when this record was
	// created or last reset.
	ParentGeneration int         `json:"parent_generation"`
	RetryPolicy      RetryPolicy `json:"retry_policy"`
	// MaxConcurrent is the function's cluster-wide limit of running tasks;
	// 0 means none.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// ConcurrencyKey names the group MaxConcurrent counts (see
	// LimitGroup): empty means the function's own group (its step name).
	ConcurrencyKey string `json:"concurrency_key,omitempty"`
	// RateKey, RateLimit and RatePer are the task's rate limit: no more
	// than RateLimit fresh claims of the group RateKey start within any
	// window of RatePer. RateLimit 0 means none.
	RateKey   string        `json:"rate_key,omitempty"`
	RateLimit int           `json:"rate_limit,omitempty"`
	RatePer   time.Duration `json:"rate_per,omitempty"`
	// RateLimitedUntil is set when a claim held the pending task back for
	// its rate limit: it is not claimed before then. A claim clears it.
	RateLimitedUntil *time.Time `json:"rate_limited_until,omitempty"`
	Tags             []string   `json:"tags,omitempty"`
	Priority         int        `json:"priority"`
	Queue            string     `json:"queue"`
	IdempotencyKey   string     `json:"idempotency_key,omitempty"`
	LinkOwnerID      string     `json:"link_owner_id,omitempty"`
	CacheKey         string     `json:"cache_key,omitempty"`
	// ScheduledFor is when a pending task becomes due; for a sleep it is
	// the wake-up time.
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	// WakeAt is when a waiting (parked) task becomes claimable again: a
	// sleep's end, a wait's deadline, or the time its awaited children
	// finished. Nil while it waits for children or a signal only.
	WakeAt *time.Time `json:"wake_at,omitempty"`
	// Awaited marks a step its parked parent waits for: when the last
	// live awaited step of a waiting parent ends, the parent wakes.
	Awaited        bool       `json:"awaited,omitempty"`
	WorkerID       string     `json:"worker_id,omitempty"`
	ClaimToken     string     `json:"claim_token,omitempty"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	// Deadline is the execution's deadline, copied onto every task.
	Deadline     *time.Time        `json:"deadline,omitempty"`
	TraceContext map[string]string `json:"trace_context,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	StartedAt    *time.Time        `json:"started_at,omitempty"`
	FinishedAt   *time.Time        `json:"finished_at,omitempty"`
}

// Fence identifies one claim of a task: a finishing write must match all
// three fields while the task is running.
type Fence struct {
	TaskID   string `json:"task_id"`
	WorkerID string `json:"worker_id"`
	Token    string `json:"token"`
}

// Fence returns the task's current claim fence.
func (t Task) Fence() Fence {
	return Fence{TaskID: t.ID, WorkerID: t.WorkerID, Token: t.ClaimToken}
}

// IsRoot reports whether the task is its execution's orchestrator.
func (t Task) IsRoot() bool { return t.ParentTaskID == "" && t.Kind == KindOrchestrator }

// Due reports whether a pending task may be claimed or fired at now.
func (t Task) Due(now time.Time) bool {
	return t.ScheduledFor == nil || !t.ScheduledFor.After(now)
}

// Timed reports whether the step ends at its ScheduledFor (see
// ports.StepStore.CompleteSleep): a sleep, or a signal wait with a
// deadline (WithSignalTimeout), which ends without a message.
func (t Task) Timed() bool {
	return t.Kind == KindSleep || (t.Kind == KindSignal && t.ScheduledFor != nil)
}

// SignalStepName returns the step name of a wait for the named signal.
func SignalStepName(name string) string { return "signal:" + name }

// SleepStepName is the step name of a durable sleep.
const SleepStepName = "stent.sleep"

// PatchStepName returns the step name of the patch marker of a change id
// (app.Patched): "stent.patch/<change id>", under the reserved prefix so
// no durable function can have it.
func PatchStepName(changeID string) string { return ReservedPrefix + "patch/" + changeID }

// ReservedPrefix is reserved for Stent's own step names.
const ReservedPrefix = "stent."

// TimePrecision is the precision at which every store keeps times.
const TimePrecision = time.Microsecond

// NormalizeTime returns t in UTC truncated to TimePrecision, the form every
// store returns.
func NormalizeTime(t time.Time) time.Time { return t.UTC().Truncate(TimePrecision) }
