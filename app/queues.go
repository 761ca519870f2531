package app

import (
	"context"
	"fmt"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// PauseQueue pauses queue q across every worker of the store: dispatches
// to it are still accepted and stored, and tasks of it already running
// finish, but no worker claims, resumes or reclaims a task of q until
// ResumeQueue. A run whose next task waits in a paused queue reports the
// wait reason "queue q is paused". It reports whether this call changed
// the queue (false when it was paused already). An empty or bad name is
// ErrInvalidArgument.
func (e *Engine) PauseQueue(ctx context.Context, q string) (changed bool, err error) {
	changed, err = e.store.SetQueuePaused(ctx, q, true, e.now())
	if err != nil {
		return false, fmt.Errorf("stent: pause queue %q: %w", q, err)
	}
	if changed {
		e.log.InfoContext(ctx, "queue paused", "queue", q)
	}
	return changed, nil
}

// ResumeQueue resumes a paused queue: its due tasks are claimable again at
// once (idle workers are told). It reports whether this call changed the
// queue (false when it was not paused).
func (e *Engine) ResumeQueue(ctx context.Context, q string) (changed bool, err error) {
	changed, err = e.store.SetQueuePaused(ctx, q, false, e.now())
	if err != nil {
		return false, fmt.Errorf("stent: resume queue %q: %w", q, err)
	}
	if changed {
		e.log.InfoContext(ctx, "queue resumed", "queue", q)
		e.hints.Publish(ctx, hint.Ready(q, ""))
	}
	return changed, nil
}

// Queues lists the queues with work or a pause state, by name: pending and
// running task counts, the oldest pending task's creation time and whether
// the queue is paused (count queries, never list scans).
func (e *Engine) Queues(ctx context.Context) ([]domain.QueueInfo, error) {
	qs, err := e.store.ListQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("stent: list queues: %w", err)
	}
	return qs, nil
}

// LimitUsage lists the flow-limit groups with live work and how much of
// each limit is in use (see ports.LimitStore): concurrency groups with
// their running and pending tasks, rate groups with their starts in the
// window ending now; at most limit rows (0: 100), concurrency first, each
// kind by group.
func (e *Engine) LimitUsage(ctx context.Context, limit int) ([]domain.LimitUsage, error) {
	list, err := e.store.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: e.now(), Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("stent: list limit usage: %w", err)
	}
	return list, nil
}
