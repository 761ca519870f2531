package domain

import "slices"

// Transition is one operation of a state machine of SPEC §3: the states it
// applies to (From) and the state it leaves the record in (To). The stores
// change states only through these operations: they test From before a
// change (memstore) or build the WHERE clause of the changing statement
// from it (the SQL stores), so the table below is the one place the state
// machine is written.
type Transition[S ~string] struct {
	// Entity is "execution" or "task".
	Entity string
	// Op names the operation, e.g. "claim".
	Op   string
	From []S
	To   S
}

// Allows reports whether the operation applies to a record in state s.
func (tr Transition[S]) Allows(s S) bool { return slices.Contains(tr.From, s) }

// Check returns nil if the operation applies to a record in state from,
// else a *TransitionError naming the operation and both states (it matches
// ErrInvalidTransition).
func (tr Transition[S]) Check(from S) error {
	if tr.Allows(from) {
		return nil
	}
	return &TransitionError{Entity: tr.Entity, Op: tr.Op, From: string(from), To: string(tr.To)}
}

// ExecutionTransition is an operation on an execution's state.
type ExecutionTransition = Transition[ExecutionState]

// TaskTransition is an operation on a task's state.
type TaskTransition = Transition[TaskState]

func execOp(op string, to ExecutionState, from ...ExecutionState) ExecutionTransition {
	return ExecutionTransition{Entity: "execution", Op: op, From: from, To: to}
}

func taskOp(op string, to TaskState, from ...TaskState) TaskTransition {
	return TaskTransition{Entity: "task", Op: op, From: from, To: to}
}

// The execution operations. An execution is inserted pending.
var (
	// ExecStart: the first claim of the root task starts the execution.
	ExecStart = execOp("start", ExecutionRunning, ExecutionPending)
	// ExecComplete: the root task completed.
	ExecComplete = execOp("complete", ExecutionCompleted, ExecutionRunning)
	// ExecFail: the root task failed terminally.
	ExecFail = execOp("fail", ExecutionFailed, ExecutionRunning)
	// ExecTimeout: the deadline passed.
	ExecTimeout = execOp("time out", ExecutionTimedOut, ExecutionPending, ExecutionRunning)
	// ExecCancel: Cancel.
	ExecCancel = execOp("cancel", ExecutionCancelled, ExecutionPending, ExecutionRunning)
	// ExecReplay: the replay of the failed root's dead letter.
	ExecReplay = execOp("replay", ExecutionPending, ExecutionFailed)
	// ExecReset: Reset re-runs an ended execution from one of its steps
	// (the repair of a run after a code fix). A completed execution is
	// forked instead.
	ExecReset = execOp("reset", ExecutionPending, ExecutionFailed, ExecutionTimedOut, ExecutionCancelled)
)

// ExecutionTransitions lists every execution operation.
var ExecutionTransitions = []ExecutionTransition{ExecStart, ExecComplete, ExecFail, ExecTimeout, ExecCancel, ExecReplay, ExecReset}

// The task operations. A task is inserted pending (or, for a step that is
// resolved at once, completed; an inline step running).
var (
	// TaskClaim: a worker claims a due pending task (a new attempt).
	TaskClaim = taskOp("claim", TaskRunning, TaskPending)
	// TaskReclaim: a worker claims a running task whose lease expired.
	TaskReclaim = taskOp("reclaim", TaskRunning, TaskRunning)
	// TaskResume: a worker claims a parked task whose wake condition holds.
	TaskResume = taskOp("resume", TaskRunning, TaskWaiting)
	// TaskComplete: the claim holder stores a result.
	TaskComplete = taskOp("complete", TaskCompleted, TaskRunning)
	// TaskFail: the claim holder fails the task terminally.
	TaskFail = taskOp("fail", TaskFailed, TaskRunning)
	// TaskRetry: the claim holder schedules another attempt.
	TaskRetry = taskOp("retry", TaskPending, TaskRunning)
	// TaskRelease: the claim holder gives the task back (drain, stop).
	TaskRelease = taskOp("release", TaskPending, TaskRunning)
	// TaskPark: the claim holder parks the task until it can go on.
	TaskPark = taskOp("park", TaskWaiting, TaskRunning)
	// TaskResolve: the engine completes a pending step record: a due
	// sleep, a signal delivery, a link whose owner completed.
	TaskResolve = taskOp("resolve", TaskCompleted, TaskPending)
	// TaskFailLink: a pending link fails with its owner.
	TaskFailLink = taskOp("fail link", TaskFailed, TaskPending)
	// TaskCancel: the execution ended (cancel, timeout, root finished)
	// while the task was live.
	TaskCancel = taskOp("cancel", TaskCancelled, TaskPending, TaskRunning, TaskWaiting)
	// TaskReset: a newer generation of the parent re-queues an ended step.
	TaskReset = taskOp("reset", TaskPending, TaskCompleted, TaskFailed, TaskCancelled)
	// TaskReplay: the replay of a dead letter re-queues the failed task.
	TaskReplay = taskOp("replay", TaskPending, TaskFailed)
)

// TaskTransitions lists every task operation.
var TaskTransitions = []TaskTransition{
	TaskClaim, TaskReclaim, TaskResume, TaskComplete, TaskFail, TaskRetry, TaskRelease,
	TaskPark, TaskResolve, TaskFailLink, TaskCancel, TaskReset, TaskReplay,
}

// CheckExecutionTransition returns nil if some operation moves an
// execution from one state to the other, else a *TransitionError naming
// both states (it matches ErrInvalidTransition).
func CheckExecutionTransition(from, to ExecutionState) error {
	return check("execution", ExecutionTransitions, from, to)
}

// CheckTaskTransition returns nil if some operation moves a task from one
// state to the other, else a *TransitionError naming both states.
func CheckTaskTransition(from, to TaskState) error { return check("task", TaskTransitions, from, to) }

func check[S ~string](entity string, ops []Transition[S], from, to S) error {
	for _, tr := range ops {
		if tr.To == to && tr.Allows(from) {
			return nil
		}
	}
	return &TransitionError{Entity: entity, From: string(from), To: string(to)}
}
