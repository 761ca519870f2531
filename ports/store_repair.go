package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stenthq/stent/domain"
)

// RepairStore forks and resets executions: the repair of a run after a
// code fix (see domain.SplitAtStep for how steps are numbered and split).
// Each is one transaction. Counters and custom state are never rolled
// back: a fork starts with a copy of the source's, a reset keeps its own,
// and the operations of steps that run again are applied again. Cache
// entries and idempotency records are global and stay as they are.
type RepairStore interface {
	// ForkExecution creates the execution p.NewID (root task p.NewRootID),
	// a copy of p.SourceID that runs from step p.FromStep: same root
	// function, routing and tags, input p.Input (nil: the source's),
	// forked_from = the source, no idempotency key, created_at = now,
	// deadline = now + the source's time limit (if it had one). Its root
	// is pending (attempt 0, generation 0, no result or error) with the
	// source root's retry policy and routing. The source's top-level steps
	// before p.FromStep and every task below them are copied as they are
	// (results kept: they never run again; domain.ForkSteps); when any is
	// copied, the new root keeps the source root's created_at and
	// started_at, so its first claim re-attaches to them (it is not a
	// FirstClaim) and the timeline reads in order. The mailbox is copied:
	// messages consumed by a copied step stay consumed by its copy, the
	// others are unconsumed (a re-run wait receives them again, in order).
	// The source is not changed and may be in any state. Returns the new
	// execution as stored. ErrNotFound for an unknown source;
	// ErrInvalidArgument for bad params or a FromStep outside 1 to
	// recorded steps + 1, or a kept step that is not completed; ErrConflict
	// when NewID or NewRootID is taken.
	ForkExecution(ctx context.Context, p ForkParams) (domain.Execution, error)

	// ResetExecution re-runs the failed, timed-out or cancelled execution
	// p.ID from step p.FromStep under the same id: the top-level steps
	// from p.FromStep on and every task below them are deleted with their
	// dead letters, and the messages they consumed go back to the mailbox
	// unconsumed; the steps before it are kept. The root becomes pending,
	// due now (attempt 0, recoveries 0, result, errors, lease and park
	// flags cleared, generation unchanged) and its dead letter is deleted;
	// the execution becomes pending (result, error and finished_at
	// cleared) with deadline = now + its time limit (if it had one).
	// Returns the execution as stored. ErrNotFound for an unknown id;
	// ErrInvalidTransition (naming the state and the allowed ones) for an
	// execution in another state, nothing changed; ErrInvalidArgument as
	// ForkExecution.
	ResetExecution(ctx context.Context, p ResetParams) (domain.Execution, error)
}

// ForkParams asks ForkExecution for a fork.
type ForkParams struct {
	SourceID string
	// FromStep is the first top-level step that runs again (from 1).
	FromStep int
	// NewID and NewRootID are the ids of the new execution and its root.
	NewID     string
	NewRootID string
	// Input, when set, replaces the source's input.
	Input json.RawMessage
	Now   time.Time
}

// ResetParams asks ResetExecution for a reset.
type ResetParams struct {
	ID string
	// FromStep is the first top-level step that runs again (from 1).
	FromStep int
	Now      time.Time
}
