package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CatchUpMode says what a schedule does with ticks it missed while no
// worker ran it (downtime, a pause of every worker).
type CatchUpMode string

// Catch-up modes.
const (
	// CatchUpModeSkip drops missed ticks: only a tick found due within the
	// misfire grace of its time fires.
	CatchUpModeSkip CatchUpMode = "skip"
	// CatchUpModeOnce fires one execution, for the latest missed tick.
	CatchUpModeOnce CatchUpMode = "once"
	// CatchUpModeAll fires every missed tick, up to a bound (the most
	// recent ones, oldest first).
	CatchUpModeAll CatchUpMode = "all"
)

// MaxCatchUpBound is the largest bound of CatchUpModeAll.
const MaxCatchUpBound = 10000

// CatchUp is a schedule's catch-up policy. Its text form is "skip",
// "once" or "all:N" (N from 1 to MaxCatchUpBound).
type CatchUp struct {
	Mode  CatchUpMode
	Bound int // CatchUpModeAll only
}

// String returns the text form.
func (c CatchUp) String() string {
	if c.Mode == CatchUpModeAll {
		return fmt.Sprintf("all:%d", c.Bound)
	}
	return string(c.Mode)
}

// Validate checks the mode and the bound.
func (c CatchUp) Validate() error {
	switch c.Mode {
	case CatchUpModeSkip, CatchUpModeOnce:
		if c.Bound != 0 {
			return InvalidArgument("catch-up %q takes no bound (got %d)", c.Mode, c.Bound)
		}
		return nil
	case CatchUpModeAll:
		if c.Bound < 1 || c.Bound > MaxCatchUpBound {
			return InvalidArgument("catch-up all bound %d; want 1 to %d", c.Bound, MaxCatchUpBound)
		}
		return nil
	}
	return InvalidArgument("unknown catch-up policy %q; allowed: skip, once, all:N", c.Mode)
}

// ParseCatchUp reads the text form: "skip", "once" or "all:N".
func ParseCatchUp(s string) (CatchUp, error) {
	switch s {
	case "skip", "once":
		return CatchUp{Mode: CatchUpMode(s)}, nil
	}
	if n, ok := strings.CutPrefix(s, "all:"); ok {
		b, err := strconv.Atoi(n)
		if err != nil {
			return CatchUp{}, InvalidArgument("catch-up %q: the bound %q is not a whole number; want all:N with N from 1 to %d", s, n, MaxCatchUpBound)
		}
		c := CatchUp{Mode: CatchUpModeAll, Bound: b}
		return c, c.Validate()
	}
	return CatchUp{}, InvalidArgument("unknown catch-up policy %q; allowed: skip, once, all:N", s)
}

// MarshalText implements encoding.TextMarshaler.
func (c CatchUp) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *CatchUp) UnmarshalText(b []byte) error {
	v, err := ParseCatchUp(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Overlap says what a schedule does when a tick comes while the execution
// of an earlier tick is still live (pending, running or waiting).
type Overlap string

// Overlap policies.
const (
	// OverlapAllow starts the new execution anyway.
	OverlapAllow Overlap = "allow"
	// OverlapSkip drops the tick.
	OverlapSkip Overlap = "skip"
	// OverlapQueueOne holds the tick until the live execution ends, then
	// fires one execution for the latest held tick.
	OverlapQueueOne Overlap = "queue_one"
)

// Overlaps lists the overlap policies.
var Overlaps = []Overlap{OverlapAllow, OverlapSkip, OverlapQueueOne}

// ParseOverlap validates an overlap policy name.
func ParseOverlap(s string) (Overlap, error) {
	for _, o := range Overlaps {
		if string(o) == s {
			return o, nil
		}
	}
	return "", InvalidArgument("unknown overlap policy %q; allowed: allow, skip, queue_one", s)
}

// Schedule is a stored cron schedule: a durable function started with a
// fixed input at each tick of a cron expression in a time zone.
type Schedule struct {
	// Name identifies the schedule.
	Name string `json:"name"`
	// Cron is the cron expression: 5 fields (minute hour day-of-month
	// month day-of-week), 6 with a leading seconds field, or a descriptor
	// such as @daily.
	Cron string `json:"cron"`
	// TimeZone is the IANA zone the expression is read in; "" is UTC.
	TimeZone string `json:"time_zone"`
	// Function is the durable function started at each tick.
	Function string `json:"function"`
	// Input is the function's JSON input.
	Input   json.RawMessage `json:"input"`
	CatchUp CatchUp         `json:"catch_up"`
	Overlap Overlap         `json:"overlap"`
	// Paused schedules fire nothing.
	Paused bool `json:"paused"`
	// NextTick is the next tick not yet handled (UTC).
	NextTick time.Time `json:"next_tick"`
	// LastTick is the latest tick that started an execution.
	LastTick *time.Time `json:"last_tick,omitempty"`
	// LastExecutionID is the execution of LastTick (or of the latest
	// trigger), what the overlap policy looks at.
	LastExecutionID string `json:"last_execution_id,omitempty"`
	// Version counts the writes of the row: every update is a
	// compare-and-set on it.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ScheduleExecutionID is the id of the execution a schedule starts for a
// tick: the same for every worker, so a tick fired by several workers at
// once makes one execution.
func ScheduleExecutionID(name string, tick time.Time) string {
	return "schedule:" + name + "@" + tick.UTC().Format(time.RFC3339)
}
