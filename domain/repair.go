package domain

import (
	"fmt"
	"slices"
	"time"
)

// This file holds the rules of the two repairs of a run (Fork and Reset):
// where an execution's recorded steps are split, and how a fork copies
// the steps it keeps. Every store applies them, so they are written once.
//
// Step n is the n-th top-level call of the workflow body: the root's
// child record at position n (the "#" column of `stent show`). The steps
// before n are kept with their results and never run again; step n and
// every later one (with everything they started) run again.

// StepSplit is an execution's tasks split at a step.
type StepSplit struct {
	// Root is the execution's root task.
	Root Task
	// Keep holds the top-level steps before the split point and every
	// task below them, parents before children.
	Keep []Task
	// Drop holds the top-level steps from the split point on and every
	// task below them.
	Drop []Task
	// Steps is the number of recorded top-level steps (the highest
	// position under the root).
	Steps int
}

// SplitAtStep splits the tasks of execution executionID (every task of
// it, in any order; rootID names its root) at top-level step n. n runs
// from 1 to Steps+1 (Steps+1 keeps every recorded step and runs only the
// rest of the body again). Each kept top-level step must be completed:
// only a result can be kept. Errors match ErrInvalidArgument and name the
// bad value and what is allowed.
func SplitAtStep(executionID, rootID string, tasks []Task, n int) (StepSplit, error) {
	var sp StepSplit
	if n < 1 {
		return sp, InvalidArgument("execution %q: from step %d: steps are numbered from 1", executionID, n)
	}
	children := map[string][]Task{}
	found := false
	for _, t := range tasks {
		if t.ID == rootID {
			sp.Root, found = t, true
			continue
		}
		children[t.ParentTaskID] = append(children[t.ParentTaskID], t)
		if t.ParentTaskID == rootID && t.Position > sp.Steps {
			sp.Steps = t.Position
		}
	}
	if !found {
		return sp, fmt.Errorf("execution %q: root task %q: %w", executionID, rootID, ErrNotFound)
	}
	if n > sp.Steps+1 {
		return sp, InvalidArgument("execution %q: from step %d: the execution has %d recorded steps; choose a step from 1 to %d",
			executionID, n, sp.Steps, sp.Steps+1)
	}
	top := children[rootID]
	slices.SortFunc(top, func(a, b Task) int { return a.Position - b.Position })
	var walk func(t Task, into *[]Task)
	walk = func(t Task, into *[]Task) {
		*into = append(*into, t)
		kids := children[t.ID]
		slices.SortFunc(kids, func(a, b Task) int { return a.Position - b.Position })
		for _, k := range kids {
			walk(k, into)
		}
	}
	for _, t := range top {
		if t.Position >= n {
			walk(t, &sp.Drop)
			continue
		}
		if t.State != TaskCompleted {
			return sp, InvalidArgument("execution %q: from step %d: step %d (%s) is %s, and only a completed step's result can be kept; choose step %d or earlier",
				executionID, n, t.Position, t.StepName, t.State, t.Position)
		}
		walk(t, &sp.Keep)
	}
	return sp, nil
}

// MaxDuration returns the execution's time limit (Deadline minus its
// start: ScheduledFor, else CreatedAt), and false when it has none. A
// repaired run gets the same limit again from the repair.
func (e Execution) MaxDuration() (time.Duration, bool) {
	if e.Deadline == nil {
		return 0, false
	}
	start := e.CreatedAt
	if e.ScheduledFor != nil {
		start = *e.ScheduledFor
	}
	return e.Deadline.Sub(start), true
}

// RepairDeadline is the deadline of a run repaired at now: now plus the
// execution's MaxDuration, or nil when it has none.
func (e Execution) RepairDeadline(now time.Time) *time.Time {
	d, ok := e.MaxDuration()
	if !ok {
		return nil
	}
	t := NormalizeTime(now.Add(d))
	return &t
}

// ForkSteps returns copies of kept (SplitAtStep's Keep, parents first)
// for the fork newExecID whose root is newRootID: each copy gets the id
// StepID(newExecID, its new parent, its position), the new execution and
// parent, deadline, no idempotency key (the source keeps its keys), no
// park flags, lease or recoveries, and (for a top-level step) ParentGeneration 0, the
// new root's generation; its state, result, attempts and times are the
// source's (history). A copy of a live task (an unawaited call made below
// a kept step) is cancelled: a fork runs nothing before its step.
func ForkSteps(kept []Task, oldRootID, newExecID, newRootID string, deadline *time.Time) []Task {
	ids := map[string]string{oldRootID: newRootID}
	out := make([]Task, 0, len(kept))
	for _, t := range kept {
		c := t
		c.ParentTaskID = ids[t.ParentTaskID]
		c.ID = StepID(newExecID, c.ParentTaskID, t.Position)
		ids[t.ID] = c.ID
		c.ExecutionID = newExecID
		c.Deadline = deadline
		c.IdempotencyKey = ""
		c.Awaited, c.WakeAt = false, nil
		c.WorkerID, c.ClaimToken, c.LeaseExpiresAt = "", "", nil
		c.Recoveries = 0
		if t.ParentTaskID == oldRootID {
			c.ParentGeneration = 0
		}
		if c.State.Live() { // an unawaited call below a kept step: history, not work
			c.State = TaskCancelled
			c.Error = SentinelError(ErrCancelled, "not copied live into a fork")
		}
		c.Tags = slices.Clone(t.Tags)
		out = append(out, c)
	}
	return out
}

// CheckResettable returns nil when an execution in state s can be reset
// (ExecReset: failed, timed_out or cancelled), else an error matching
// ErrInvalidTransition that names the state and the allowed ones.
func CheckResettable(executionID string, s ExecutionState) error {
	if ExecReset.Allows(s) {
		return nil
	}
	hint := "wait for it to end, or cancel it first"
	if s == ExecutionCompleted {
		hint = "fork it to run it again"
	}
	return &resetStateError{msg: fmt.Sprintf("execution %q is %s; only a failed, timed_out or cancelled execution can be reset (%s)",
		executionID, s, hint)}
}

// resetStateError is CheckResettable's refusal: it matches
// ErrInvalidTransition and carries its code, so the HTTP API and the CLI
// show its words rather than the bare sentinel's.
type resetStateError struct{ msg string }

func (e *resetStateError) Error() string        { return "stent: " + e.msg }
func (e *resetStateError) Is(target error) bool { return target == ErrInvalidTransition }
func (e *resetStateError) ErrorCode() string    { return ErrInvalidTransition.code }
