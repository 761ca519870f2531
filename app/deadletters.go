package app

import (
	"context"
	"fmt"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ReplayOption configures a dead-letter replay.
type ReplayOption interface{ applyReplay(*replayOptions) }

type replayOptions struct {
	queue        string
	keepAttempts bool
}

type replayOptionFunc func(*replayOptions)

func (f replayOptionFunc) applyReplay(o *replayOptions) { f(o) }

// WithReplayQueue moves the replayed task to another queue.
func WithReplayQueue(q string) ReplayOption {
	return replayOptionFunc(func(o *replayOptions) { o.queue = q })
}

// KeepAttempts keeps the task's attempt count instead of starting afresh.
func KeepAttempts() ReplayOption {
	return replayOptionFunc(func(o *replayOptions) { o.keepAttempts = true })
}

// DeadLetters lists dead letters, newest first.
func (e *Engine) DeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	return e.store.ListDeadLetters(ctx, f)
}

// DeadLetter returns the dead letter of a task, or ErrNotFound.
func (e *Engine) DeadLetter(ctx context.Context, taskID string) (domain.DeadLetter, error) {
	return e.store.GetDeadLetter(ctx, taskID)
}

// DiscardDeadLetter deletes a dead letter (only the entry).
func (e *Engine) DiscardDeadLetter(ctx context.Context, taskID string) error {
	return e.store.DiscardDeadLetter(ctx, taskID)
}

// ReplayDeadLetter re-queues a dead-lettered task under the same id with
// fresh attempts (unless KeepAttempts) and a new generation, so a waiting
// or re-running parent sees the new outcome. Replaying a root resumes its
// execution from its checkpoints. A non-root task of a finished execution
// is ErrExecutionFinished.
func (e *Engine) ReplayDeadLetter(ctx context.Context, taskID string, opts ...ReplayOption) (domain.Task, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Task{}, err
	}
	var o replayOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyReplay(&o)
		}
	}
	if o.queue != "" {
		if err := domain.ValidateName("queue", o.queue); err != nil {
			return domain.Task{}, err
		}
	}
	t, err := e.store.ReplayDeadLetter(ctx, ports.ReplayParams{TaskID: taskID, Queue: o.queue, KeepAttempts: o.keepAttempts, Now: e.now()})
	if err != nil {
		return t, fmt.Errorf("stent: replay dead letter %q: %w", taskID, err)
	}
	evs := []domain.Event{hint.Ready(t.Queue, t.StepName), hint.Task(t)}
	if t.IsRoot() {
		evs = append(evs, hint.Execution(t.ExecutionID, domain.ExecutionPending))
	}
	e.hints.Publish(ctx, evs...)
	return t, nil
}

// ReplayAllResult counts a ReplayAllDeadLetters run.
type ReplayAllResult struct {
	Replayed int               `json:"replayed"`
	Failed   int               `json:"failed"`
	Errors   map[string]string `json:"errors,omitempty"` // task id -> error
}

// ReplayAllDeadLetters replays every dead letter matching f (queue, step
// name, execution), paging through all of them with no cap. Each task is
// replayed at most once per call, so a task that fails again at once (and
// is dead-lettered anew while the call pages on) is left for the next
// call instead of looping. Entries that fail to replay stay in the queue
// and are reported per task id.
func (e *Engine) ReplayAllDeadLetters(ctx context.Context, f ports.DeadLetterFilter, opts ...ReplayOption) (ReplayAllResult, error) {
	var res ReplayAllResult
	seen := map[string]bool{}
	f.Limit, f.Offset = 100, 0
	for {
		page, err := e.store.ListDeadLetters(ctx, f)
		if err != nil {
			return res, err
		}
		if len(page) == 0 {
			return res, nil
		}
		for _, dl := range page {
			if seen[dl.TaskID] {
				f.Offset++ // dead-lettered again during this call: step over it
				continue
			}
			seen[dl.TaskID] = true
			if _, err := e.ReplayDeadLetter(ctx, dl.TaskID, opts...); err != nil {
				res.Failed++
				if res.Errors == nil {
					res.Errors = map[string]string{}
				}
				res.Errors[dl.TaskID] = err.Error()
				f.Offset++ // it stays in the list; step over it
				continue
			}
			res.Replayed++
		}
	}
}
