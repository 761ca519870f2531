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
	Process   string   `json:"process"`
	Queues    []string `json:"queues,omitempty"`
	Functions []string `json:"functions,omitempty"`
	// Versions maps each versioned function of the worker's registry to
	// its version (app.WithVersion); a function absent here is unversioned.
	Versions map[string]string `json:"versions,omitempty"`
	// VersionPolicy is the worker's claim policy for versions ("" means
	// VersionStrict).
	VersionPolicy VersionPolicy `json:"version_policy,omitempty"`
	State         WorkerState   `json:"state"`
	StartedAt     time.Time     `json:"started_at"`
	// HeartbeatAt is the last time the worker said it was alive.
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// StoppedAt is when it stopped or was declared dead.
	StoppedAt *time.Time `json:"stopped_at,omitempty"`
}

// VersionPolicy says which task versions a worker claims.
type VersionPolicy string

// Version policies.
const (
	// VersionStrict (the default, also spelled ""): a task of function f
	// at version v goes only to a worker whose registry registers f at v;
	// an unversioned task has version "".
	VersionStrict VersionPolicy = "strict"
	// VersionAny: the worker claims the tasks of its functions whatever
	// their version.
	VersionAny VersionPolicy = "any"
)

// ParseVersionPolicy validates a policy name ("" is VersionStrict).
func ParseVersionPolicy(s string) (VersionPolicy, error) {
	switch VersionPolicy(s) {
	case "", VersionStrict:
		return VersionStrict, nil
	case VersionAny:
		return VersionAny, nil
	}
	return "", InvalidArgument("unknown version policy %q; allowed: strict, any", s)
}

// Serves reports whether the worker claims tasks of function fn at
// version (under its policy). It does not look at the worker's state.
func (w WorkerInfo) Serves(fn, version string) bool {
	if !slices.Contains(w.Functions, fn) {
		return false
	}
	return w.VersionPolicy == VersionAny || w.Versions[fn] == version
}
