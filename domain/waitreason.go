package domain

import (
	"fmt"
	"strings"
	"time"
)

// WaitReason says in one line why a live execution is not running user
// code right now, from its step timeline: "sleeping until
// 2026-12-04T14:05:03Z", "waiting for signal approval", "waiting for 37 of
// 100 children", "no worker registers charge", "queued: charge waits for a
// free worker", "rate limited until 15:04:05 (charge)", "waiting for concurrency key
// cust-7 of charge (2 of 2 running)", "retrying charge at ...", "running charge". served reports
// whether a live worker claims a function at a version (nil: assume every
// function is served); a versioned step no live worker claims reads "no
// worker registers charge version v2". It returns "" for a terminal execution. now is a parameter
// (domain never reads the clock).
func WaitReason(state ExecutionState, steps []ProgressEntry, served func(function, version string) bool, now time.Time) string {
	return WaitReasonWith(state, steps, Serving{Served: served}, now)
}

// Serving is what WaitReasonWith knows about the workers and queues.
type Serving struct {
	// Served reports whether a live worker claims a function at a version (nil:
	// every function is served).
	Served func(function, version string) bool
	// Paused reports whether a queue is paused (nil: none is).
	Paused func(queue string) bool
	// Concurrency returns the current use of a concurrency group
	// (ProgressEntry.ConcurrencyGroup); ok false when unknown (nil: none
	// is known).
	Concurrency func(group string) (u LimitUsage, ok bool)
}

// WaitReasonWith is WaitReason that also knows the paused queues: a due
// task (pending, or waiting with its wake time passed) in a paused queue
// gives "queue payments is paused", after a missing worker and before
// every other reason.
func WaitReasonWith(state ExecutionState, steps []ProgressEntry, sv Serving, now time.Time) string {
	if state.Terminal() {
		return ""
	}
	served, paused := sv.Served, sv.Paused
	if served == nil {
		served = func(string, string) bool { return true }
	}
	if paused == nil {
		paused = func(string) bool { return false }
	}
	children := map[string][]ProgressEntry{}
	for _, s := range steps {
		if s.ParentID != "" {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	// Reasons found, best first: a missing worker blocks everything, then
	// what a parked task waits for, then the queue, then running code.
	var unserved, held, signals, sleeps, kids, queued, running []string
	add := func(list *[]string, r string) {
		for _, x := range *list {
			if x == r {
				return
			}
		}
		*list = append(*list, r)
	}
	for _, s := range steps {
		if !s.State.Live() || !s.Kind.Claimable() {
			continue
		}
		due := s.State == TaskPending && (s.ScheduledFor == nil || !s.ScheduledFor.After(now)) ||
			s.State == TaskWaiting && s.WakeAt != nil && !s.WakeAt.After(now)
		switch {
		case (s.State == TaskPending || s.State == TaskWaiting) && !served(s.Step, s.Version):
			if s.Version != "" {
				add(&unserved, "no worker registers "+s.Step+" version "+s.Version)
			} else {
				add(&unserved, "no worker registers "+s.Step)
			}
		case due && s.Queue != "" && paused(s.Queue):
			add(&held, QueuePausedReason(s.Queue))
		case s.State == TaskRunning:
			add(&running, "running "+s.Step)
		case s.State == TaskPending && s.RateLimitedUntil != nil && s.RateLimitedUntil.After(now):
			add(&queued, RateLimitedReason(*s.RateLimitedUntil)+" ("+s.Step+")")
		case due && s.State == TaskPending && fullGroup(sv, s) != nil:
			add(&queued, ConcurrencyWaitReason(*fullGroup(sv, s)))
		case due && s.State == TaskWaiting:
			add(&queued, "resuming: "+s.Step+" waits for a free worker")
		case due:
			add(&queued, "queued: "+s.Step+" waits for a free worker")
		case s.State == TaskPending && s.Attempt > 0:
			add(&queued, fmt.Sprintf("retrying %s at %s", s.Step, stamp(*s.ScheduledFor)))
		case s.State == TaskPending:
			add(&queued, fmt.Sprintf("scheduled: %s starts at %s", s.Step, stamp(*s.ScheduledFor)))
		}
		if s.State != TaskWaiting && s.State != TaskRunning {
			continue
		}
		awaited, live := 0, 0
		for _, c := range children[s.TaskID] {
			switch {
			case c.Kind == KindSleep && c.State == TaskPending && c.ScheduledFor != nil:
				add(&sleeps, "sleeping until "+stamp(*c.ScheduledFor))
			case c.Kind == KindSignal && c.State == TaskPending:
				add(&signals, "waiting for signal "+strings.TrimPrefix(c.Step, "signal:"))
			case c.Awaited && s.State == TaskWaiting:
				awaited++
				if c.State.Live() {
					live++
				}
			}
		}
		if live > 0 {
			add(&kids, fmt.Sprintf("waiting for %d of %d children", live, awaited))
		}
	}
	for _, list := range [][]string{unserved, held, signals, sleeps, kids, queued, running} {
		if len(list) > 0 {
			return strings.Join(list, "; ")
		}
	}
	return ""
}

// fullGroup returns the use of s's concurrency group when it is full.
func fullGroup(sv Serving, s ProgressEntry) *LimitUsage {
	g := s.ConcurrencyGroup()
	if g == "" || sv.Concurrency == nil {
		return nil
	}
	if u, ok := sv.Concurrency(g); ok && u.Full() {
		return &u
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
