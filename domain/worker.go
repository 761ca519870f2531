package domain

import (
	"slices"
	"time"
)

// WorkerState is a registered worker's state in the worker registry.
type WorkerState string

// Worker registry states.
const (
	// WorkerLive: the worker heartbeats its registry row.
	WorkerLive WorkerState = "live"
	// WorkerStopped: the worker stopped cleanly (drained or hard-stopped,
	// its leases released).
	WorkerStopped WorkerState = "stopped"
	// WorkerDead: another worker found its heartbeat too old (or a
	// restarted worker of the same name took over) and ended its leases,
	// so its tasks were reclaimed at once.
	WorkerDead WorkerState = "dead"
)

// WorkerStates lists the registry states in the order they are listed.
var WorkerStates = []WorkerState{WorkerLive, WorkerStopped, WorkerDead}

// ParseWorkerState validates a state name, e.g. from a CLI or API filter.
func ParseWorkerState(s string) (WorkerState, error) {
	st := WorkerState(s)
	if !slices.Contains(WorkerStates, st) {
		return "", InvalidArgument("unknown worker state %q; allowed: %s", s, joinStates(WorkerStates))
	}
	return st, nil
}

// WorkerInfo is one row of the worker registry: who claims work, from
// where, and when it was last heard of.
type WorkerInfo struct {
	// ID is the worker id written in the leases it holds.
	ID string `json:"id"`
	// Name is the worker's configured name (empty when none): a worker
	// restarting on the same host with the same name adopts its
	// predecessor's tasks at start.
	Name string `json:"name,omitempty"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Process identifies the operating-system process (random per process
	// start), so workers of one process never take each other for a
	// predecessor.
	Process   string      `json:"process"`
	Queues    []string    `json:"queues,omitempty"`
	Functions []string    `json:"functions,omitempty"`
	State     WorkerState `json:"state"`
	StartedAt time.Time   `json:"started_at"`
	// HeartbeatAt is the last time the worker said it was alive.
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// StoppedAt is when it stopped or was declared dead.
	StoppedAt *time.Time `json:"stopped_at,omitempty"`
}
