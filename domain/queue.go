package domain

import "time"

// QueueInfo is one queue: whether it is paused and how much work it holds.
// Queues exist implicitly (a task names its queue); a queue that was ever
// paused or resumed also has a row of its own, so a paused queue is listed
// even while it holds no task.
type QueueInfo struct {
	Name   string `json:"name"`
	Paused bool   `json:"paused"`
	// PausedAt is when the queue was paused; nil while it is not.
	PausedAt *time.Time `json:"paused_at,omitempty"`
	// Pending counts the queue's pending runnable tasks (orchestrator and
	// activity), due or scheduled for later.
	Pending int64 `json:"pending"`
	// Running counts the queue's running tasks.
	Running int64 `json:"running"`
	// OldestPendingAt is the creation time of the oldest pending task; nil
	// when there is none.
	OldestPendingAt *time.Time `json:"oldest_pending_at,omitempty"`
}

// QueuePausedReason is the wait reason of a run whose due task sits in a
// paused queue.
func QueuePausedReason(queue string) string { return "queue " + queue + " is paused" }
