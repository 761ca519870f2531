package domain

import (
	"fmt"
	"slices"
)

// ExecutionState is the lifecycle state of an execution (SPEC §3).
type ExecutionState string

// Execution states.
const (
	ExecutionPending   ExecutionState = "pending"
	ExecutionRunning   ExecutionState = "running"
	ExecutionCompleted ExecutionState = "completed"
	ExecutionFailed    ExecutionState = "failed"
	ExecutionTimedOut  ExecutionState = "timed_out"
	ExecutionCancelled ExecutionState = "cancelled"
)

// ExecutionStates lists every execution state in lifecycle order.
var ExecutionStates = []ExecutionState{
	ExecutionPending, ExecutionRunning, ExecutionCompleted,
	ExecutionFailed, ExecutionTimedOut, ExecutionCancelled,
}

// Terminal reports whether s is final (completed, failed, timed_out,
// cancelled). Only a replay moves an execution out of failed.
func (s ExecutionState) Terminal() bool {
	switch s {
	case ExecutionCompleted, ExecutionFailed, ExecutionTimedOut, ExecutionCancelled:
		return true
	}
	return false
}

// Valid reports whether s is a known execution state.
func (s ExecutionState) Valid() bool { return slices.Contains(ExecutionStates, s) }

// ParseExecutionState validates a state name, e.g. from a CLI filter.
func ParseExecutionState(s string) (ExecutionState, error) {
	st := ExecutionState(s)
	if !st.Valid() {
		return "", InvalidArgument("unknown execution state %q; allowed: %s", s, joinStates(ExecutionStates))
	}
	return st, nil
}

// TaskState is the lifecycle state of a task (SPEC §3).
type TaskState string

// Task states.
const (
	TaskPending TaskState = "pending"
	TaskRunning TaskState = "running"
	// TaskWaiting is a parked task: its run ended while it waited (a
	// sleep, a signal, children), it holds no worker, goroutine or lease,
	// and any worker resumes it by replay once its wake condition holds.
	TaskWaiting   TaskState = "waiting"
	TaskCompleted TaskState = "completed"
	TaskFailed    TaskState = "failed"
	TaskCancelled TaskState = "cancelled"
)

// TaskStates lists every task state in lifecycle order.
var TaskStates = []TaskState{TaskPending, TaskRunning, TaskWaiting, TaskCompleted, TaskFailed, TaskCancelled}

// Terminal reports whether s is completed, failed or cancelled.
func (s TaskState) Terminal() bool {
	return s == TaskCompleted || s == TaskFailed || s == TaskCancelled
}

// Live reports whether s is pending, running or waiting (not terminal).
func (s TaskState) Live() bool { return s == TaskPending || s == TaskRunning || s == TaskWaiting }

// Valid reports whether s is a known task state.
func (s TaskState) Valid() bool { return slices.Contains(TaskStates, s) }

// ParseTaskState validates a state name.
func ParseTaskState(s string) (TaskState, error) {
	st := TaskState(s)
	if !st.Valid() {
		return "", InvalidArgument("unknown task state %q; allowed: %s", s, joinStates(TaskStates))
	}
	return st, nil
}

// TaskKind is what a task is for.
type TaskKind string

// Task kinds. Only orchestrator and activity tasks are ever claimed by a
// worker; sleep, signal and link records are completed by the engine.
const (
	KindOrchestrator TaskKind = "orchestrator" // the root task of an execution
	KindActivity     TaskKind = "activity"     // a child call of a durable function
	KindSleep        TaskKind = "sleep"        // a durable sleep step
	KindSignal       TaskKind = "signal"       // a wait for an external signal
	KindLink         TaskKind = "link"         // an idempotent call attached to another task's run
)

// TaskKinds lists every kind.
var TaskKinds = []TaskKind{KindOrchestrator, KindActivity, KindSleep, KindSignal, KindLink}

// Claimable reports whether workers claim tasks of this kind.
func (k TaskKind) Claimable() bool { return k == KindOrchestrator || k == KindActivity }

// Valid reports whether k is a known kind.
func (k TaskKind) Valid() bool { return slices.Contains(TaskKinds, k) }

// ParseTaskKind validates a kind name.
func ParseTaskKind(s string) (TaskKind, error) {
	k := TaskKind(s)
	if !k.Valid() {
		return "", InvalidArgument("unknown task kind %q; allowed: %s", s, joinStates(TaskKinds))
	}
	return k, nil
}

func joinStates[S ~string](states []S) string {
	out := ""
	for i, s := range states {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(s)
	}
	return out
}
