package domain

import (
	"encoding/json"
	"time"
)

// Topic is a notification channel name, without the deployment prefix.
type Topic string

// Well-known topics (SPEC §7).
const (
	// TopicReady is published when a task may have become claimable:
	// step creation, zero-delay retry, replay, release.
	TopicReady Topic = "ready"
	// TopicCancel is published after an execution is cancelled.
	TopicCancel Topic = "cancel"
)

// TaskTopic is the channel of one task: complete, fail, cancel, timeout,
// signal delivery.
func TaskTopic(id string) Topic { return Topic("task:" + id) }

// ExecutionTopic is the channel of one execution: root claim and terminal
// transitions.
func ExecutionTopic(id string) Topic { return Topic("execution:" + id) }

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventTask      EventKind = "task"      // a task changed state
	EventExecution EventKind = "execution" // an execution changed state
	EventReady     EventKind = "ready"     // work may be claimable
	EventCancel    EventKind = "cancel"    // an execution was cancelled
	// EventReset is delivered by a notifier to every subscriber after a
	// connection loss or reconnection: events may have been missed, so
	// re-read the store.
	EventReset EventKind = "reset"
)

// Event is a notification. Events are hints: a lost event only costs
// latency, never correctness.
type Event struct {
	V           int       `json:"v"`
	Kind        EventKind `json:"kind"`
	Topic       Topic     `json:"-"`
	ID          string    `json:"id,omitempty"`
	ExecutionID string    `json:"execution_id,omitempty"`
	State       string    `json:"state,omitempty"`
	Queue       string    `json:"queue,omitempty"`
	Function    string    `json:"function,omitempty"`
	At          time.Time `json:"at"`
	// Result is the JSON value of a completed execution, carried on its
	// EventExecution when it is at most MaxEventResultBytes, so that a
	// waiter needs no store read. Empty: read the store. Only an
	// EventExecution with State "completed" carries one. It is a string
	// (a JSON string on the wire) so that Event stays comparable.
	Result string `json:"result,omitempty"`
}

// MaxEventResultBytes bounds the result an execution event carries: even
// escaped as a JSON string (at most 6 bytes a byte) it stays under
// PostgreSQL's 8000-byte NOTIFY payload with the other fields.
const MaxEventResultBytes = 1024

// CompletedResult returns the Result an EventExecution for execution id
// carries, and whether it carries one (a completed execution's value that
// was small enough). The value is a copy.
func (ev Event) CompletedResult(id string) (Result, bool) {
	if ev.Kind != EventExecution || ev.ID != id || ev.State != string(ExecutionCompleted) || ev.Result == "" {
		return Result{}, false
	}
	return Result{ExecutionID: id, State: ExecutionCompleted, Value: json.RawMessage(ev.Result)}, true
}

// EventVersion is the payload version written in Event.V.
const EventVersion = 1
