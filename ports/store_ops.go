package ports

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
)

// TaskCount is one group of CountTasks.
type TaskCount struct {
	State domain.TaskState
	Queue string
	Kind  domain.TaskKind
	N     int64
}

// StatsStore answers counts with COUNT queries, never list scans.
type StatsStore interface {
	// CountExecutionsByState returns the number of executions per state;
	// states with none are absent.
	CountExecutionsByState(ctx context.Context) (map[domain.ExecutionState]int64, error)
	// CountTasks returns task counts grouped by (state, queue, kind), in
	// no particular order; empty groups are absent.
	CountTasks(ctx context.Context) ([]TaskCount, error)
	// CountDeadLetters returns the number of dead letters.
	CountDeadLetters(ctx context.Context) (int64, error)
	// ListFinished returns the terminal executions whose finished_at is in
	// [f.Since, f.Until) (a zero Until: no upper bound), most recently
	// finished first (finished_at desc, then id desc), at most f.Limit of
	// them (0 means DefaultPageLimit): only the fields a throughput or
	// latency chart needs. Bad input (FinishedFilter.Validate) is
	// ErrInvalidArgument.
	ListFinished(ctx context.Context, f FinishedFilter) ([]FinishedExecution, error)
}

// FinishedFilter selects finished executions for ListFinished.
type FinishedFilter struct {
	// Since is required: finished at or after it.
	Since time.Time
	// Until, when set, excludes executions finished at or after it.
	Until time.Time
	Limit int
}

// FinishedExecution is one row of ListFinished.
type FinishedExecution struct {
	ID         string
	State      domain.ExecutionState
	Queue      string
	CreatedAt  time.Time
	FinishedAt time.Time
}

// CleanupParams says what Cleanup removes. A zero time skips that kind.
type CleanupParams struct {
	// ExecutionsBefore: terminal executions finished before it are deleted
	// with all their rows (tasks, signals, data, dead letters).
	ExecutionsBefore time.Time
	// DeadLettersBefore: dead letters moved before it are deleted.
	DeadLettersBefore time.Time
	// SignalsBefore: consumed signals, and signals of executions that no
	// longer exist, created before it are deleted.
	SignalsBefore time.Time
	// Now: cache entries with expires_at <= Now are deleted (zero: skip).
	Now time.Time
	// WorkersBefore: registry rows of stopped or dead workers last heard
	// of before it are deleted.
	WorkersBefore time.Time
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool
}

// CleanupResult counts the rows Cleanup removed (or would remove).
type CleanupResult struct {
	Executions   int64
	Tasks        int64
	DeadLetters  int64
	CacheEntries int64
	Signals      int64
	Workers      int64
}

// ExpireWorkersParams selects the workers ExpireWorkers declares dead.
type ExpireWorkersParams struct {
	// IDs are live workers to declare dead whatever their heartbeat (a
	// restarted worker taking over its predecessor).
	IDs []string
	// StaleBefore, when set, also selects every live worker whose last
	// heartbeat is older than it.
	StaleBefore time.Time
	// Except is never declared dead (the caller itself).
	Except string
	// ExceptProcess: workers registered with this Process are never
	// declared dead (a process knows its own workers are alive).
	ExceptProcess string
	Now           time.Time
}

// ExpiredWorker is a worker ExpireWorkers declared dead.
type ExpiredWorker struct {
	Worker domain.WorkerInfo
	// Tasks is how many running tasks' leases were ended.
	Tasks int
}

// WorkerStore is the worker registry: who claims work, and the fast
// adoption of a dead worker's tasks.
type WorkerStore interface {
	// RegisterWorker inserts or replaces w's row with state live,
	// StartedAt = HeartbeatAt = now. ErrInvalidArgument for an empty id.
	RegisterWorker(ctx context.Context, w domain.WorkerInfo, now time.Time) error
	// TouchWorker records a heartbeat: HeartbeatAt = now, state live (a
	// worker declared dead that is still running becomes live again; the
	// leases that were ended stay ended). ErrNotFound for an unknown id.
	TouchWorker(ctx context.Context, id string, now time.Time) error
	// StopWorker marks the worker stopped (a clean exit, its leases
	// released); StoppedAt = now. ErrNotFound for an unknown id.
	StopWorker(ctx context.Context, id string, now time.Time) error
	// ExpireWorkers declares dead (StoppedAt = now) the live workers p
	// selects and, in the same transaction, ends the leases of their
	// running tasks: lease_expires_at = now and the claim token replaced,
	// so the tasks are reclaimed at once (a recovery) and every later
	// write or renewal by the dead worker is rejected with ErrLeaseLost.
	ExpireWorkers(ctx context.Context, p ExpireWorkersParams) ([]ExpiredWorker, error)
	// ListWorkers returns the registry: live workers first, then the
	// others, each group by id.
	ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error)
}

// QueueStore pauses and resumes queues and lists them. A paused queue
// keeps accepting work (CreateExecutions, CreateStepsBatch) but ClaimTasks
// hands out none of its tasks (no fresh claim, resume or reclaim) and
// NextWake ignores its waiting tasks, until it is resumed; tasks already
// running when it is paused finish as usual. A task with an empty queue
// is in no queue and is never paused.
type QueueStore interface {
	// SetQueuePaused pauses (paused=true, PausedAt = now) or resumes
	// (paused=false, PausedAt cleared) the queue name, creating its row if
	// needed, and reports whether this call changed it (pausing a paused
	// queue keeps its PausedAt and returns false). ErrInvalidArgument for
	// an empty or bad name (domain.ValidateName).
	SetQueuePaused(ctx context.Context, name string, paused bool, now time.Time) (changed bool, err error)
	// ListQueues returns every queue that has a row (was ever paused) or a
	// pending or running runnable task, ordered by name, with its counts
	// (see domain.QueueInfo). Counts come from COUNT queries, never scans.
	ListQueues(ctx context.Context) ([]domain.QueueInfo, error)
}

// Maintenance covers retention, the function catalogue and the connection.
type Maintenance interface {
	// Cleanup deletes what p selects and never touches live executions or
	// their rows. Idempotency records are kept.
	Cleanup(ctx context.Context, p CleanupParams) (CleanupResult, error)
	// UpsertFunctions records catalogue entries (insert or replace by name,
	// last_seen_at = now).
	UpsertFunctions(ctx context.Context, fns []domain.FunctionInfo, now time.Time) error
	// ListFunctions returns the catalogue ordered by name.
	ListFunctions(ctx context.Context) ([]domain.FunctionInfo, error)
	// Ping checks the backend answers (ErrUnavailable if not).
	Ping(ctx context.Context) error
	// Close releases connections; later calls return ErrClosed. Idempotent.
	Close() error
}

// Migrator is implemented by stores with a versioned schema (the SQL
// stores).
type Migrator interface {
	// Migrate applies every pending migration; a no-op when current. Safe to
	// run from several processes at once. A database newer than the code is
	// ErrSchemaVersion naming both versions.
	Migrate(ctx context.Context) error
	// SchemaVersion returns the database's applied version and the latest
	// version this code knows.
	SchemaVersion(ctx context.Context) (current, latest int, err error)
}

// LimitStore reports the flow limits' current use (read-only). Limits
// live on the task rows (ports.StepSpec), so a group is known while it has
// a pending or running task, or, for a rate limit, a start in its window
// still in the rate log (with its task stored).
type LimitStore interface {
	// ListLimitUsage returns the concurrency groups with a pending or
	// running task that has a concurrency limit (MaxConcurrent > 0; InUse
	// = running tasks, Pending = pending ones), then the rate groups with a
	// pending or running task or a start after f.Now-Per (InUse = starts
	// in (f.Now-Per, f.Now]), each kind ordered by group, at most
	// PageLimit(f.Limit) rows (see domain.LimitUsage, domain.LimitTally).
	// Only runnable tasks (orchestrator, activity) count. ErrInvalidArgument
	// for a negative limit.
	ListLimitUsage(ctx context.Context, f LimitUsageFilter) ([]domain.LimitUsage, error)
}

// LimitUsageFilter selects ListLimitUsage's rows.
type LimitUsageFilter struct {
	// Now ends the rate windows.
	Now time.Time
	// Groups, when not empty, keeps only these groups (LimitUsage.Group).
	Groups []string
	// Limit caps the rows (0: DefaultPageLimit).
	Limit int
}
