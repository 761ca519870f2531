package domain

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Flow limits (concurrency keys and rate limits) group tasks by a text
// key stored on each task. A store counts running tasks per concurrency
// group and fresh claims per rate group.

// LimitScope says what a concurrency key or rate key is scoped by: one
// function, or one queue (shared by every function that declares the
// limit on that queue).
type LimitScope string

const (
	// ScopeFunction scopes a limit group by the function's name.
	ScopeFunction LimitScope = "function"
	// ScopeQueue scopes a limit group by the task's queue.
	ScopeQueue LimitScope = "queue"
)

// LimitGroup returns the stored key of a limit group: scope, the
// function or queue name, and the user's key, e.g. "function:charge:cust-7"
// or "queue:payments:cust-7". A key-less group ends with ":".
func LimitGroup(scope LimitScope, name, key string) string {
	return string(scope) + ":" + name + ":" + key
}

// ConcurrencyGroup returns the group whose running tasks t's MaxConcurrent
// counts: its ConcurrencyKey, or its step name when that is empty (the
// function-wide limit).
func (t Task) ConcurrencyGroup() string {
	if t.ConcurrencyKey != "" {
		return t.ConcurrencyKey
	}
	return t.StepName
}

// ValidateLimit checks a concurrency or rate limit given at registration:
// limit must be 1 or more; per (rate limits only, per != nil) must be
// positive. what names the option in the error.
func ValidateLimit(what string, limit int, per *time.Duration) error {
	if limit <= 0 {
		return InvalidArgument("%s: limit %d; want 1 or more", what, limit)
	}
	if per != nil && *per <= 0 {
		return InvalidArgument("%s: period %s; want a positive duration", what, *per)
	}
	return nil
}

// RateWindowFree returns when a rate group that has had starts (sorted,
// oldest first, all within the window ending at now) frees a slot for one
// more start under limit per period: now when fewer than limit starts are
// in the window, else the (len-limit+1)-th oldest start plus per.
func RateWindowFree(starts []time.Time, limit int, per time.Duration, now time.Time) time.Time {
	if len(starts) < limit {
		return now
	}
	return starts[len(starts)-limit].Add(per)
}

// InsertSorted inserts t into the sorted times ts, after equal times.
func InsertSorted(ts []time.Time, t time.Time) []time.Time {
	i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
	return slices.Insert(ts, i, t)
}

// RateLimitedReason is the wait reason of a task held back by its rate
// limit until t.
func RateLimitedReason(t time.Time) string {
	return fmt.Sprintf("rate limited until %s", t.UTC().Format("15:04:05"))
}
