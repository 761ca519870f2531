package domain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// LimitKind says which flow limit a LimitUsage reports.
type LimitKind string

const (
	// LimitConcurrency is a concurrency limit (WithConcurrency,
	// WithQueueConcurrency, WithMaxConcurrent): InUse counts running tasks.
	LimitConcurrency LimitKind = "concurrency"
	// LimitRate is a rate limit (WithRateLimit, WithQueueRateLimit): InUse
	// counts fresh starts in the window of length Per ending now.
	LimitRate LimitKind = "rate"
)

// LimitUsage is one flow-limit group and how much of its limit is in use
// right now.
type LimitUsage struct {
	Kind LimitKind `json:"kind"`
	// Group is the stored group: "function:charge:cust-7",
	// "queue:payments:cust-7", or the function's name for a function-wide
	// concurrency limit (Task.ConcurrencyGroup).
	Group string `json:"group"`
	// Scope, Name and Key split Group: the function or queue the limit was
	// declared on, and the user's key ("" for a key-less limit).
	Scope LimitScope `json:"scope"`
	Name  string     `json:"name"`
	Key   string     `json:"key,omitempty"`
	// Limit is the most running tasks (concurrency) or starts per window
	// (rate) the group allows.
	Limit int `json:"limit"`
	// Per is a rate limit's window (0 for concurrency).
	Per time.Duration `json:"-"`
	// PerSeconds is Per in seconds, for JSON.
	PerSeconds float64 `json:"per_seconds,omitempty"`
	// InUse is the group's running tasks (concurrency) or its starts in
	// the window ending now (rate).
	InUse int64 `json:"in_use"`
	// Pending counts the group's pending tasks (due or later).
	Pending int64 `json:"pending"`
}

// Full reports whether the group is at its limit (a due task of it waits).
func (u LimitUsage) Full() bool { return u.Limit > 0 && u.InUse >= int64(u.Limit) }

// Label names the limit for a person: "concurrency key cust-7 of charge",
// "concurrency key cust-7 of queue payments", "the concurrency limit of
// charge" (key-less), "rate key ..." likewise.
func (u LimitUsage) Label() string {
	return limitLabel(u.Kind, u.Scope, u.Name, u.Key)
}

func limitLabel(kind LimitKind, scope LimitScope, name, key string) string {
	where := " of " + name
	if scope == ScopeQueue {
		where = " of queue " + name
	}
	if key == "" {
		return "the " + string(kind) + " limit" + where
	}
	return string(kind) + " key " + key + where
}

// ConcurrencyWaitReason is the wait reason of a due task whose concurrency
// group is full: "waiting for concurrency key cust-7 of charge (2 of 2
// running)".
func ConcurrencyWaitReason(u LimitUsage) string {
	return fmt.Sprintf("waiting for %s (%d of %d running)", u.Label(), u.InUse, u.Limit)
}

// SplitLimitGroup returns the scope, name and key of a stored group, given
// the function (step) and queue of a task carrying it: a group that starts
// "queue:<queue>:" is queue-scoped, one that starts "function:<step>:" is
// function-scoped, anything else (the step name) is the key-less
// function-wide group.
func SplitLimitGroup(group, step, queue string) (LimitScope, string, string) {
	if p := LimitGroup(ScopeQueue, queue, ""); strings.HasPrefix(group, p) {
		return ScopeQueue, queue, group[len(p):]
	}
	if p := LimitGroup(ScopeFunction, step, ""); strings.HasPrefix(group, p) {
		return ScopeFunction, step, group[len(p):]
	}
	return ScopeFunction, group, ""
}

// LimitTally builds ListLimitUsage answers from what a store reads, so
// every store reports the same: counts of live (pending and running)
// limited tasks by group and the rate log's starts.
type LimitTally struct {
	groups map[limitID]*tallyGroup
	only   map[string]bool
}

type limitID struct {
	kind  LimitKind
	group string
}

type tallyGroup struct {
	u       LimitUsage
	starts  []time.Time
	running int64
}

// NewLimitTally returns an empty tally; groups, when not empty, keeps only
// those groups (LimitUsage.Group).
func NewLimitTally(groups []string) *LimitTally {
	t := &LimitTally{groups: map[limitID]*tallyGroup{}}
	if len(groups) > 0 {
		t.only = map[string]bool{}
		for _, g := range groups {
			t.only[g] = true
		}
	}
	return t
}

func (t *LimitTally) get(kind LimitKind, group, step, queue string, limit int, per time.Duration) *tallyGroup {
	if t.only != nil && !t.only[group] {
		return nil
	}
	id := limitID{kind, group}
	g := t.groups[id]
	if g == nil {
		scope, name, key := SplitLimitGroup(group, step, queue)
		g = &tallyGroup{u: LimitUsage{Kind: kind, Group: group, Scope: scope, Name: name, Key: key}}
		t.groups[id] = g
	}
	g.u.Limit = max(g.u.Limit, limit)
	g.u.Per = max(g.u.Per, per)
	return g
}

// AddTasks counts n live tasks of a group in state (pending or running):
// for concurrency, group is Task.ConcurrencyGroup() and limit its
// MaxConcurrent; for rate, group is RateKey, limit RateLimit, per RatePer.
// step and queue are the tasks' function and queue.
func (t *LimitTally) AddTasks(kind LimitKind, group, step, queue string, state TaskState, n int64, limit int, per time.Duration) {
	g := t.get(kind, group, step, queue, limit, per)
	if g == nil {
		return
	}
	switch {
	case state == TaskPending:
		g.u.Pending += n
	case state == TaskRunning && kind == LimitConcurrency:
		g.u.InUse += n
	case state == TaskRunning:
		g.running += n
	}
}

// AddStart records one start of a rate group's log (of a task of step and
// queue with that limit and period).
func (t *LimitTally) AddStart(group, step, queue string, at time.Time, limit int, per time.Duration) {
	if g := t.get(LimitRate, group, step, queue, limit, per); g != nil {
		g.starts = append(g.starts, at)
	}
}

// List returns the groups, concurrency first then rate, each by group
// name, at most limit of them: a rate group's InUse counts its starts
// after now-Per; a rate group with no start in the window and no live
// task is left out.
func (t *LimitTally) List(now time.Time, limit int) []LimitUsage {
	out := make([]LimitUsage, 0, len(t.groups))
	for _, g := range t.groups {
		u := g.u
		if u.Kind == LimitRate {
			for _, s := range g.starts {
				if s.After(now.Add(-u.Per)) {
					u.InUse++
				}
			}
			if u.InUse == 0 && u.Pending == 0 && g.running == 0 {
				continue
			}
			u.PerSeconds = u.Per.Seconds()
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b LimitUsage) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Group, b.Group))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
