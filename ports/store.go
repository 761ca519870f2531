package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stenthq/stent/domain"
)

// Store is everything the engine persists. It is composed of role
// interfaces so each use case can depend on the smallest one. Adapters:
// memstore (reference, in memory), sqlitestore and pgxstore; all three pass
// the same contract suite (tests/contract.RunStore), which also requires
// Inspector.
//
// Writes come in batches only (CreateExecutions, CreateStepsBatch,
// CompleteTasks); CreateExecution, CreateSteps and CompleteTask beside the
// port write one item through them. Every store checks its parameters with
// the validators of this package (validate.go) before it touches its data,
// so all stores reject the same bad input with the same error.
type Store interface {
	ExecutionStore
	TaskReader
	StepStore
	ClaimStore
	SignalStore
	RepairStore
	DeadLetterStore
	StatsStore
	WorkerStore
	ScheduleStore
	QueueStore
	LimitStore
	Maintenance
}

// ExecutionStore creates, reads and ends executions.
type ExecutionStore interface {
	// CreateExecutions inserts executions in one transaction, in order (a
	// dispatch is a batch of one, see CreateExecution). Each item's
	// Execution is inserted with state pending, and its Root task (kind
	// orchestrator, position 0) with state pending. The caller fills
	// Execution.ID, Root.ID, Execution.RootTaskID = Root.ID,
	// Root.ExecutionID = Execution.ID, routing and timestamps; the store sets
	// states and copies Execution.Deadline onto Root.Deadline.
	//
	// Per item: if Execution.IdempotencyKey is set and already used by
	// another execution, nothing is written and the result holds that
	// execution's id with Created=false. If Execution.ID already exists,
	// nothing is written and the result holds Execution.ID with
	// Created=false, unless the existing execution runs a different root
	// function: then the result's Err is ErrConflict. Otherwise the result
	// holds Execution.ID with Created=true.
	//
	// Execution.SingletonKey (dispatch singleton): if a live (pending or
	// running) execution holds the key, nothing is written and the result
	// holds its id with Outcome joined; once it is terminal the key is free.
	// Execution.DebounceKey (dispatch debounce): if a pending execution
	// whose root has not started holds the key, its input, ScheduledFor and
	// Deadline (and its root's) are replaced by the item's, nothing else is
	// written and the result holds its id with Outcome debounced; otherwise
	// the item is inserted holding the key. Both are decided atomically
	// (a unique index over the live holders): concurrent dispatches with
	// one key write one execution. An idempotency key or id hit is checked
	// first. A key held by an execution of another root function makes
	// the item's Err ErrConflict (nothing written for it). An item may not
	// set both keys (ErrInvalidArgument).
	//
	// The returned error is for the batch as a whole, and then nothing was
	// written: bad input in any item (NewExecution.Validate:
	// ErrInvalidArgument), a root task id already used by another
	// execution (ErrConflict), ErrUnavailable, ErrClosed.
	CreateExecutions(ctx context.Context, items []NewExecution) ([]CreatedExecution, error)

	// GetExecution returns one execution, or ErrNotFound.
	GetExecution(ctx context.Context, id string) (domain.Execution, error)

	// ListExecutions returns executions matching f, newest first (created_at
	// desc, then id desc). Limit 0 means DefaultPageLimit; a negative Limit
	// or Offset, or an unknown state, is ErrInvalidArgument
	// (ExecutionFilter.Validate). With f.After set, only the executions
	// after that key in this order are returned (keyset pagination:
	// created_at < After.At, or created_at = After.At and id < After.ID).
	ListExecutions(ctx context.Context, f ExecutionFilter) ([]domain.Execution, error)

	// ListProgress returns the execution's step timeline: one entry per task
	// of the execution, ordered by created_at then position. ErrNotFound if
	// the execution does not exist.
	ListProgress(ctx context.Context, executionID string) ([]domain.ProgressEntry, error)

	// GetExecutionData returns the execution's counters and custom state
	// (empty, non-nil maps when there are none). ErrNotFound if the
	// execution does not exist.
	GetExecutionData(ctx context.Context, executionID string) (domain.ExecutionData, error)

	// CancelExecution moves a pending or running execution to cancelled
	// (error code "cancelled", message "execution cancelled", finished_at =
	// now) and, in the same transaction, every live (pending or running)
	// task of the execution to cancelled, clearing their leases. Idempotency
	// keys held by cancelled tasks are handed to the oldest live link of
	// another execution, or released if there is none (see FailTask).
	// Returns the execution as stored and whether this call changed it; a
	// terminal execution is returned unchanged with changed=false and a nil
	// error. ErrNotFound for an unknown id.
	CancelExecution(ctx context.Context, id string, now time.Time) (exec domain.Execution, changed bool, err error)

	// TimeoutExecution moves a pending or running execution whose deadline
	// is <= now to timed_out (error code "timed_out", matching ErrTimedOut
	// and ErrDeadline, not ErrExpired) and cancels its live tasks like CancelExecution. It
	// returns changed=false, nil when the execution is terminal, has no
	// deadline or is not yet due. No dead letters are written. ErrNotFound
	// for an unknown id.
	TimeoutExecution(ctx context.Context, id string, now time.Time) (exec domain.Execution, changed bool, err error)

	// ExpireOverdue times out up to limit live executions whose deadline is
	// <= now (the expiry sweep) and returns their ids. limit <= 0 is
	// ErrInvalidArgument.
	ExpireOverdue(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// TaskReader reads tasks (records of every kind).
type TaskReader interface {
	// GetTask returns one task, or ErrNotFound.
	GetTask(ctx context.Context, id string) (domain.Task, error)

	// GetTasks returns the tasks with these ids that exist, in the order of
	// ids (missing ids are skipped, never an error).
	GetTasks(ctx context.Context, ids []string) ([]domain.Task, error)

	// ListTasks returns tasks matching f, newest first (created_at desc, id
	// desc). Limit/Offset rules as ListExecutions; unknown states or kinds
	// are ErrInvalidArgument (TaskFilter.Validate).
	ListTasks(ctx context.Context, f TaskFilter) ([]domain.Task, error)
}

// NewExecution is one item of CreateExecutions: an execution and its root
// task.
type NewExecution struct {
	Execution domain.Execution
	Root      domain.Task
}

// CreatedExecution is the outcome of one item of CreateExecutions.
type CreatedExecution struct {
	// ID is the execution the item names: the new one, or the existing one
	// that made the item a no-op.
	ID string
	// Created is true when the item inserted its execution.
	Created bool
	// Outcome says what the item did: created, existing (a used id or
	// idempotency key), joined (a live holder of its singleton key) or
	// debounced (the pending holder of its debounce key was updated).
	// Empty when Err is set.
	Outcome domain.DispatchOutcome
	// Err is nil, or ErrConflict for an id used by an execution of another
	// function (the item wrote nothing).
	Err error
}

// ExecutionFilter selects executions. Zero fields do not filter.
type ExecutionFilter struct {
	States   []domain.ExecutionState
	Function string
	Queue    string
	// Version selects executions dispatched at this root function version
	// (app.WithVersion); "" does not filter.
	Version string
	// Tags selects executions carrying every one of these tags; empty does
	// not filter.
	Tags []string
	// IDPrefix selects executions whose id starts with it (case
	// sensitive); "" does not filter.
	IDPrefix string
	// Text selects executions whose input, result or error JSON text
	// contains it, ASCII letters matched regardless of case (other
	// characters exactly); "" does not filter. It is a substring match on
	// the stored JSON text: a quote inside a string value is `\"` there.
	Text string
	// CreatedFrom and CreatedBefore select executions created at or after
	// CreatedFrom and before CreatedBefore; a zero time does not filter.
	CreatedFrom   time.Time
	CreatedBefore time.Time
	Limit         int
	Offset        int
	// After, when set, starts the page after this key (the CreatedAt and
	// ID of the last execution of the previous page). It cannot be
	// combined with Offset.
	After *Keyset
}

// Keyset is a position in a list ordered newest first by a time, then an
// id (both descending): the time and id of the last row of a page. A list
// given After: &k returns only the rows strictly after k in that order,
// so a page never repeats or skips a row while rows are inserted (new
// rows have later times and land before the first page). At is compared
// at domain.TimePrecision.
type Keyset struct {
	At time.Time
	ID string
}

// TaskFilter selects tasks. Zero fields do not filter.
type TaskFilter struct {
	ExecutionID  string
	ParentTaskID string
	// ParentTaskIDs, when not nil, selects the children of any of these
	// tasks (an empty list selects none; with ParentTaskID, both must
	// hold). A worker reads the step records of a whole claim batch of
	// resumed tasks with it, in one query.
	ParentTaskIDs []string
	Queue         string
	Kinds         []domain.TaskKind
	States        []domain.TaskState
	StepName      string
	Limit         int
	Offset        int
}

// StepSpec describes a child record a running task wants to exist: an
// activity call, a sleep or a signal wait at a position.
type StepSpec struct {
	// ID is domain.StepID(execution, parent, Position).
	ID       string
	Position int
	Kind     domain.TaskKind // activity, sleep or signal
	// StepName: the function name; domain.SleepStepName for a sleep;
	// domain.SignalStepName(name) for a signal wait;
	// domain.PatchStepName(id) for a patch marker (an activity spec with
	// Completed set).
	StepName string
	// Version is the function's version in the caller's registry
	// (app.WithVersion), stored on the record; "" when unversioned.
	Version       string
	Input         json.RawMessage
	RetryPolicy   domain.RetryPolicy
	MaxConcurrent int
	// ConcurrencyKey, RateKey, RateLimit and RatePer: the flow limits the
	// record is inserted (or reset) with; see domain.Task.
	ConcurrencyKey string
	RateKey        string
	RateLimit      int
	RatePer        time.Duration
	Tags           []string
	Priority       int
	Queue          string
	// IdempotencyKey, when set, makes the call idempotent: a stored
	// idempotency record completes the step at once; a key held by a live
	// task makes the step a link to that task.
	IdempotencyKey string
	// CacheKey, when set, lets an unexpired cache entry complete the step
	// at once.
	CacheKey string
	// ScheduledFor: for a sleep, the wake-up time (now + d on the first run).
	ScheduledFor *time.Time
	TraceContext map[string]string
	// Claim, when set on an activity spec, asks for the record to be claimed
	// by the caller's worker as it is inserted (the engine runs such a step
	// inline): if the record is inserted pending as an activity (not a cache
	// or idempotency hit, not a link), it is inserted running instead, with
	// attempt 1, WorkerID, ClaimToken, LeaseExpiresAt and StartedAt = now.
	// Existing records are never claimed this way.
	Claim *StepClaim
	// Completed, when set on an activity spec (with no Claim, CacheKey or
	// IdempotencyKey), inserts a missing record already completed with this
	// outcome: an inline step whose body ran before its record was written.
	// The record gets attempt 1, StartedAt = Completed.StartedAt,
	// FinishedAt = now and Result. An existing record is returned as is
	// (the caller re-attaches to it and drops this outcome).
	Completed *StepOutcome
}

// StepOutcome is the result of an inline step that already ran.
type StepOutcome struct {
	Result    json.RawMessage
	StartedAt time.Time
}

// CreateStepsRequest is one parent's request of CreateStepsBatch: make sure
// a record exists for every spec, and apply Ops with the first insert.
type CreateStepsRequest struct {
	Parent domain.Fence
	Specs  []StepSpec
	Ops    []domain.DataOp
	Now    time.Time
}

// CreateStepsResult is the outcome of one request of a batch.
type CreateStepsResult struct {
	Tasks []domain.Task
	// Err is nil, or ErrLeaseLost when the request's parent fence did not
	// match (nothing of that request was written).
	Err error
}

// StepClaim is the claim an inline step is created with.
type StepClaim struct {
	WorkerID       string
	Token          string
	LeaseExpiresAt time.Time
}

// StepStore creates and maintains the positional child records of a
// running task (SPEC §4).
type StepStore interface {
	// CreateStepsBatch applies requests, usually of different parents, in
	// one transaction, in order (one parent's steps are a batch of one, see
	// CreateSteps). For each request it makes sure a record exists for
	// every spec of r.Specs and returns every record as stored, in the
	// order of the specs. Each request is fenced on its parent's claim: if
	// r.Parent does not match a running task, that request writes nothing
	// and its result's Err is ErrLeaseLost; the others still apply. The
	// returned error is for the batch as a whole (bad input in any request,
	// CreateStepsRequest.Validate: ErrInvalidArgument; a spec id used under
	// another parent: ErrConflict; ErrUnavailable, ErrClosed): then nothing
	// was written.
	//
	// A missing record is inserted with ExecutionID, ParentTaskID and
	// Deadline from the parent, ParentGeneration = parent's Generation,
	// attempt 0, generation 0, created_at = now, and:
	//   - activity with CacheKey and an unexpired cache entry (expires_at
	//     null or > now): inserted completed with the cached result;
	//   - activity with IdempotencyKey and an idempotency record: inserted
	//     completed with the recorded result;
	//   - activity with IdempotencyKey held by another live task: inserted
	//     as kind link, pending, LinkOwnerID = the holder, no key;
	//   - activity with an unheld IdempotencyKey: inserted pending, holding
	//     the key;
	//   - sleep: pending with ScheduledFor = spec.ScheduledFor;
	//   - signal: completed with the payload of the oldest unconsumed
	//     message of that name (which is marked consumed by this task), else
	//     pending.
	// An existing record is returned as is, except that a pending signal
	// record consumes the oldest unconsumed message as above. Falsey stored
	// values (0, false, "", [], {}, null) are hits like any other.
	//
	// A request's Ops are applied (in order) if and only if it inserted at
	// least one record; otherwise they are dropped (a re-run re-attaching to
	// records whose creation already committed them). Times are r.Now.
	CreateStepsBatch(ctx context.Context, reqs []CreateStepsRequest) ([]CreateStepsResult, error)

	// ResetStep re-queues the existing non-root record spec.ID for a newer
	// generation of its parent (SPEC §4.2): a completed, failed or cancelled
	// record becomes pending with spec's kind, name, input and routing,
	// attempt 0, recoveries 0, not awaited, generation +1, ParentGeneration
	// = parent's generation,
	// result, errors and lease cleared, scheduled_for = spec.ScheduledFor;
	// its dead letter, if any, is deleted. Fenced on parent (ErrLeaseLost).
	// A live record is ErrInvalidTransition; a missing one ErrNotFound.
	ResetStep(ctx context.Context, parent domain.Fence, spec StepSpec, now time.Time) (domain.Task, error)

	// CompleteSleep completes the pending sleep record taskID whose
	// scheduled_for is <= now, fenced on the parent's claim (ErrLeaseLost).
	// It returns the record as stored: a sleep not yet due is returned
	// unchanged (still pending), an already-completed one too. A signal
	// wait with a deadline (kind signal, scheduled_for set: WithSignalTimeout)
	// is ended the same way once due: completed with no result and no
	// message consumed (the wait timed out); one a signal already completed
	// is returned as is. ErrNotFound if missing; ErrInvalidArgument if the
	// task is not a sleep or a signal wait with a deadline of that parent
	// (domain.Task.Timed).
	CompleteSleep(ctx context.Context, parent domain.Fence, taskID string, now time.Time) (domain.Task, error)
}

// ClaimParams is a worker's request for work.
type ClaimParams struct {
	WorkerID string
	// Queues the worker serves; empty means every queue. Tasks with an
	// empty queue are served by every worker.
	Queues []string
	// Tags the worker has; empty means it takes any task. A task is
	// eligible when it has no tags or shares one with the worker.
	Tags []string
	// Functions the worker can run (its registry). Only tasks whose
	// step_name is listed are claimed; empty claims nothing.
	Functions []string
	// Versions maps the worker's versioned functions to their version
	// (app.WithVersion); a function of Functions absent here is
	// unversioned (version ""). Unless AnyVersion, a task is claimed only
	// when its Version equals the version of its step_name here
	// (VersionStrict), inside the claim query.
	Versions map[string]string
	// AnyVersion claims the tasks of Functions whatever their version
	// (VersionAny).
	AnyVersion bool
	// Limit is the worker's free slots; > 0, else ErrInvalidArgument.
	Limit int
	Now   time.Time
	// Lease is how long the claim is held before it may be reclaimed; > 0,
	// else ErrInvalidArgument.
	Lease time.Duration
}

// ClaimedTask is a task ClaimTasks handed out, as stored after the claim.
type ClaimedTask struct {
	domain.Task
	// FirstClaim is true when this claim is the task's first: its
	// StartedAt was unset before it, so the task has never run and has no
	// step records. A reclaim, a resume, and a claim after a retry,
	// release, reset or replay are not first claims.
	FirstClaim bool
}

// ClaimStore hands tasks to workers under leases and records how they end.
// Every finishing write is fenced: it applies only while the task is
// running with the same worker id and claim token, else it returns
// ErrLeaseLost and writes nothing.
type ClaimStore interface {
	// ClaimTasks claims up to p.Limit eligible tasks in one transaction and
	// returns them as stored (state running, WorkerID, a fresh ClaimToken,
	// LeaseExpiresAt = Now+Lease, StartedAt = Now if unset) with
	// FirstClaim set when StartedAt was unset. StartedAt is written by a
	// task's first claim only: no later claim, retry, release, reset or
	// replay changes it. Bad params (ClaimParams.Validate) are
	// ErrInvalidArgument. Eligible (all filters
	// inside the query, no candidate window): kind orchestrator or
	// activity; step_name in Functions; unless AnyVersion, version equal
	// to Versions[step_name] ("" when absent); queue and tag rules of
	// ClaimParams; and one of
	//   - pending with scheduled_for null or <= Now (a fresh run: Attempt+1);
	//   - waiting with wake_at <= Now (a resume of a parked task: Attempt
	//     unchanged, WakeAt cleared, and its pending sleep steps whose
	//     scheduled_for <= Now completed with a null result in the same
	//     transaction);
	//   - running with lease_expires_at <= Now (a reclaim after its worker
	//     was lost: Recoveries+1, Attempt unchanged, LastError a lease_lost
	//     error);
	// and, for a task with MaxConcurrent > 0, fewer than MaxConcurrent
	// running tasks of its concurrency group (domain.Task.ConcurrencyGroup:
	// ConcurrencyKey, or step_name when that is empty) counting those
	// chosen in this call (a reclaim does not add one); and, for a pending
	// task with RateLimit > 0, RateLimitedUntil null or <= Now and fewer
	// than RateLimit fresh claims of its RateKey recorded in the window
	// (Now-RatePer, Now], counting those chosen in this call. A fresh claim
	// of a rate-limited task records a start of its RateKey at Now (kept at
	// least RatePer); a pending task turned down by its rate limit gets
	// RateLimitedUntil = the time its group frees a slot
	// (domain.RateWindowFree) and is skipped, so the tasks behind it are
	// still claimed (no head-of-line blocking). Resumes and reclaims are
	// not charged. The checks are atomic with the claim: concurrent
	// claimers never admit more than a limit. Order: priority desc, created_at, id;
	// expired leases (in that order) and due waiting tasks (in wake order)
	// are read up to Limit each and merged with the pending tasks in that
	// order. A claimed root moves its pending execution to running
	// (started_at = Now).
	ClaimTasks(ctx context.Context, p ClaimParams) ([]ClaimedTask, error)

	// NextWake returns the earliest WakeAt of the waiting tasks that p
	// would claim once due (function, version, queue and tag filters; limits and
	// Limit ignored), or the earliest RateLimitedUntil of the pending tasks
	// a rate limit holds back if that comes first, or ok=false when there
	// is neither. Workers sleep until then instead of polling.
	NextWake(ctx context.Context, p ClaimParams) (at time.Time, ok bool, err error)

	// ParkTask parks a running task until its wake condition holds
	// (SPEC §4.4, suspension): in one transaction, fenced (ErrLeaseLost),
	//   - every live record among p.Children gets Awaited = true and the
	//     task's other steps Awaited = false;
	//   - if p.Children is not empty and none of them is live (the
	//     condition already holds) nothing is written and parked is false;
	//   - else the task becomes waiting: WakeAt = p.WakeAt (nil: no timer),
	//     worker id, claim token and lease cleared, Attempt, Generation and
	//     Recoveries unchanged; parked is true.
	// A waiting task wakes (WakeAt set to the time of the write) in the
	// transaction that ends its last live awaited step: a completion
	// (CompleteTasks, link completions), a failure (FailTask, failed
	// links) or a signal delivery (SendSignal). It is then claimable (see
	// ClaimTasks), as it is once p.WakeAt passes. Cancelling or timing out
	// the execution cancels it like any live task. Children that are not
	// steps of the task, or neither WakeAt nor Children, are
	// ErrInvalidArgument.
	ParkTask(ctx context.Context, p ParkParams) (parked bool, err error)

	// RenewLeases extends each fence's lease to now+lease when still held
	// and reports, per fence in order, whether it is held and the task's and
	// execution's current states (a cancelled task reports Held=false and
	// TaskState cancelled). Unknown tasks report Held=false with empty
	// states. lease <= 0 is ErrInvalidArgument. A store with row locks may
	// skip, rather than wait for, a task row another transaction holds
	// (so that a renewal never deadlocks with a completion): that task
	// reports its state as committed, Held with its lease unchanged.
	RenewLeases(ctx context.Context, fences []domain.Fence, now time.Time, lease time.Duration) ([]LeaseStatus, error)

	// CompleteTasks stores successful results (see CompleteParams), in one
	// transaction, in order (one completion is a batch of one, see
	// CompleteTask). Each item is fenced; it returns one result per item:
	// Err nil or ErrLeaseLost (a stale item does not stop the others), and
	// the parked tasks the item woke (see ParkTask). The returned error is
	// for the batch as a whole (bad input in any item, ErrUnavailable,
	// ErrClosed), in which case nothing was written.
	CompleteTasks(ctx context.Context, ps []CompleteParams) ([]CompleteResult, error)

	// FailTask fails the task terminally (see FailParams). Fenced.
	FailTask(ctx context.Context, p FailParams) error

	// RetryTask puts the running task back to pending for another attempt:
	// scheduled_for = p.RunAt, worker id, claim token and lease cleared,
	// generation +1, last_error = p.Error. Fenced.
	RetryTask(ctx context.Context, p RetryParams) error

	// ReleaseTask gives a claimed task back (drain, stop, a claim the worker
	// cannot run): pending, due at now, lease fields cleared, attempt - 1
	// when restoreAttempt (the attempt did not happen). Fenced.
	ReleaseTask(ctx context.Context, fence domain.Fence, now time.Time, restoreAttempt bool) error
}

// CompleteResult is the outcome of one item of CompleteTasks.
type CompleteResult struct {
	// Err is nil or ErrLeaseLost.
	Err error
	// Woken lists the parked tasks this completion woke (its parent, the
	// parents of the links it completed), for the ready hint the engine
	// publishes after commit.
	Woken []WokenTask
}

// WokenTask names a parked task a write made claimable.
type WokenTask struct {
	ID       string
	Queue    string
	StepName string
}

// ParkParams asks ParkTask to park a running task.
type ParkParams struct {
	Fence domain.Fence
	// WakeAt, when set, wakes the task at that time (a sleep's end, a
	// wait's deadline).
	WakeAt *time.Time
	// Children are ids of the task's step records it waits for: it wakes
	// once every one of them has ended.
	Children []string
	Now      time.Time
}

// LeaseStatus is the answer to a lease renewal.
type LeaseStatus struct {
	Held      bool
	TaskState domain.TaskState
	ExecState domain.ExecutionState
	// LeaseExpiresAt is the lease's expiry when Held: the new one, or the
	// one it had when the store skipped the row (see RenewLeases).
	LeaseExpiresAt time.Time
}

// CompleteParams is a successful finish of a claimed task. In one
// transaction: the task becomes completed with Result (finished_at = Now,
// lease cleared); Ops are applied to its execution's data; when the task
// has a CacheKey, the cache entry key -> Result is upserted with
// expires_at = CacheExpiresAt (nil: never); when it holds an
// IdempotencyKey, the record key -> Result is written (never expiring) and
// the key stays with the task; every pending link whose LinkOwnerID is
// this task completes with Result; a root task completes its running
// execution with Result (finished_at = Now) and cancels the execution's
// other live tasks (e.g. un-awaited Async calls).
//
// Lone is a hint, not part of the outcome: the caller believes the task is
// a root that made no calls in this run and has no cache or idempotency
// key (a job's completion). A store may then try a cheaper path first; it
// checks the task itself, so a wrong hint costs time, never correctness.
type CompleteParams struct {
	Fence          domain.Fence
	Result         json.RawMessage
	Ops            []domain.DataOp
	CacheExpiresAt *time.Time
	Now            time.Time
	Lone           bool
}

// FailParams is a terminal failure of a claimed task. In one transaction:
// the task becomes failed with Error (finished_at = Now, lease cleared); a
// dead letter (task snapshot after the failure, Reason, Error.Code,
// moved_at = Now) is written; every pending link of this task fails with
// the same error; the task's idempotency key is released (cleared) so a
// later call runs afresh; a root task fails its execution with Error
// (finished_at = Now) and cancels the execution's other live tasks.
type FailParams struct {
	Fence  domain.Fence
	Error  *domain.TaskError
	Reason string
	Now    time.Time
}

// RetryParams schedules another attempt.
type RetryParams struct {
	Fence domain.Fence
	Error *domain.TaskError
	RunAt time.Time
	Now   time.Time
}

// SignalStore is the per-(execution, name) FIFO mailbox of SPEC §4.5.
type SignalStore interface {
	// SendSignal appends payload to the execution's mailbox for name with
	// the next sequence number, then hands the oldest unconsumed message of
	// that name to the oldest pending signal step (step_name
	// domain.SignalStepName(name)) of the execution, completing it. Returns
	// the completed step, if any (nil when the message stays buffered).
	// ErrNotFound for an unknown execution, ErrExecutionFinished for a
	// terminal one; neither stores anything.
	SendSignal(ctx context.Context, executionID, name string, payload json.RawMessage, now time.Time) (*domain.Task, error)

	// DiscardSignal deletes the pending (unconsumed) message seq of the
	// execution's mailbox for name, so that no signal wait ever receives
	// it (the repair of a message with a bad payload), and returns it as
	// it was. One transaction: a concurrent SendSignal or signal step
	// either consumed the message first (then it is kept) or never sees
	// it. ErrNotFound for an unknown execution or message; ErrConflict for
	// a message already consumed by a step (nothing changes: the step's
	// result is history); ErrInvalidArgument for a bad id, name or a seq
	// below 1. The sequence numbers of the other messages do not change.
	DiscardSignal(ctx context.Context, executionID, name string, seq int64) (domain.Signal, error)
}

// CacheReader reads the result cache and the idempotency records that
// CompleteTasks writes and CreateStepsBatch consults. The engine never reads
// them directly (a step's record carries the hit); diagnostics and the
// contract suite do.
type CacheReader interface {
	// GetCacheEntries returns the cached results for the keys that have an
	// unexpired entry at now (present keys only; falsey values included).
	GetCacheEntries(ctx context.Context, keys []string, now time.Time) (map[string]json.RawMessage, error)

	// GetIdempotencyRecords returns the recorded results for the keys that
	// have one (present keys only; falsey values included).
	GetIdempotencyRecords(ctx context.Context, keys []string) (map[string]json.RawMessage, error)
}

// Inspector reads what only tests and diagnostics need: the signal
// mailboxes, the cache and the idempotency records. It is not part of
// Store (the engine never calls it), but every store of this repository
// implements it and the contract suite (tests/contract.RunStore) fails a
// store that does not.
type Inspector interface {
	CacheReader

	// ListSignals returns the execution's messages ordered by name, seq;
	// an unknown execution has none.
	ListSignals(ctx context.Context, executionID string) ([]domain.Signal, error)
}

// DeadLetterFilter selects dead letters; zero fields do not filter.
type DeadLetterFilter struct {
	Queue       string
	StepName    string
	ExecutionID string
	Limit       int
	Offset      int
	// After, when set, starts the page after this key (the MovedAt and
	// TaskID of the last entry of the previous page); not with Offset.
	After *Keyset
}

// ReplayParams re-queues a dead-lettered task.
type ReplayParams struct {
	TaskID string
	// Queue, when set, moves the task to another queue.
	Queue string
	// KeepAttempts keeps the attempt count instead of starting afresh.
	KeepAttempts bool
	Now          time.Time
}

// DeadLetterStore keeps terminally failed tasks.
type DeadLetterStore interface {
	// ListDeadLetters returns entries newest first (moved_at desc, task id
	// desc). Limit/Offset/After rules as ListExecutions (After.At is a
	// moved_at, After.ID a task id).
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]domain.DeadLetter, error)
	// GetDeadLetter returns the entry of a task, or ErrNotFound.
	GetDeadLetter(ctx context.Context, taskID string) (domain.DeadLetter, error)
	// DiscardDeadLetter deletes only the entry; ErrNotFound if absent.
	DiscardDeadLetter(ctx context.Context, taskID string) error
	// ReplayDeadLetter re-queues the same task id in one transaction:
	// pending, due now, attempt 0 (unless KeepAttempts), recoveries 0,
	// generation +1,
	// error, result and lease cleared, queue replaced when p.Queue is set,
	// the entry deleted. Replaying a root also moves its failed execution
	// back to pending (error and finished_at cleared). Replaying a non-root
	// task of a terminal execution is ErrExecutionFinished and changes
	// nothing. ErrNotFound when there is no entry. Replaying a root whose
	// execution's singleton key is held by another live execution (or its
	// debounce key by another pending one) is ErrConflict and changes
	// nothing. Returns the task as stored.
	ReplayDeadLetter(ctx context.Context, p ReplayParams) (domain.Task, error)
}
