package sqlstore

import (
	"slices"
	"strings"

	"github.com/stenthq/stent/domain"
)

// The state conditions and assignments of the statements come from the
// domain's operations (domain.TaskTransitions, domain.ExecutionTransitions):
// a statement that changes a state names its operation, and its WHERE
// clause holds the operation's From states (from) while its SET clause
// writes the operation's To state (to). The SQL stores cannot drift from
// the state machine that memstore and domain.CheckTaskTransition use.

// from returns the condition that col holds a state the operation tr
// applies to: "col = 'a'" or "col IN ('a', 'b')".
func from[S ~string](col string, tr domain.Transition[S]) string { return inStates(col, tr.From) }

// to returns the SET fragment "state = 'x'" of the operation tr.
func to[S ~string](tr domain.Transition[S]) string { return "state = '" + string(tr.To) + "'" }

// inStates returns the condition that col holds one of states.
func inStates[S ~string](col string, states []S) string {
	if len(states) == 1 {
		return col + " = '" + string(states[0]) + "'"
	}
	quoted := make([]string, len(states))
	for i, st := range states {
		quoted[i] = "'" + string(st) + "'"
	}
	return col + " IN (" + strings.Join(quoted, ", ") + ")"
}

// The live (not terminal) and terminal states, for conditions that only
// read a state (inStates).
var (
	liveTaskStates          = slices.DeleteFunc(slices.Clone(domain.TaskStates), domain.TaskState.Terminal)
	liveExecutionStates     = slices.DeleteFunc(slices.Clone(domain.ExecutionStates), domain.ExecutionState.Terminal)
	terminalExecutionStates = slices.DeleteFunc(slices.Clone(domain.ExecutionStates),
		func(s domain.ExecutionState) bool { return !s.Terminal() })
)

// fencedCond is the WHERE fragment of a finishing write by the claim
// holder: the task's fence matches and the operation tr applies (tr
// starts from running). Its arguments are fenceArgs.
func fencedCond(tr domain.TaskTransition) string {
	return `id = ? AND ` + from("state", tr) + ` AND worker_id = ? AND claim_token = ?`
}

func fenceArgs(f domain.Fence) []any { return []any{f.TaskID, f.WorkerID, f.Token} }
