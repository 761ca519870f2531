package ports

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
)

// ScheduleStore keeps cron schedules (domain.Schedule). The engine
// decides when a schedule fires (cron parsing and time zones live in
// package app); the store only keeps rows and applies compare-and-set
// updates, so that any number of workers advance a schedule once.
type ScheduleStore interface {
	// CreateSchedule inserts s with Version 1 and CreatedAt = UpdatedAt =
	// now, and returns it as stored. ErrConflict when a schedule of that
	// name exists (nothing changes); ErrInvalidArgument for bad fields
	// (ValidateSchedule).
	CreateSchedule(ctx context.Context, s domain.Schedule, now time.Time) (domain.Schedule, error)

	// GetSchedule returns one schedule, or ErrNotFound.
	GetSchedule(ctx context.Context, name string) (domain.Schedule, error)

	// ListSchedules returns every schedule ordered by name.
	ListSchedules(ctx context.Context) ([]domain.Schedule, error)

	// UpdateSchedule replaces every field of the stored schedule s.Name
	// but CreatedAt, if and only if its stored Version is s.Version (a
	// compare-and-set); the row gets Version+1 and UpdatedAt = now and is
	// returned as stored. ErrConflict when the version differs (another
	// writer came first; nothing changes), ErrNotFound when there is no
	// such schedule, ErrInvalidArgument for bad fields.
	UpdateSchedule(ctx context.Context, s domain.Schedule, now time.Time) (domain.Schedule, error)

	// DeleteSchedule removes a schedule; ErrNotFound if absent. The
	// executions it started are kept.
	DeleteSchedule(ctx context.Context, name string) error

	// DueSchedules returns up to limit schedules that are not paused and
	// whose NextTick is <= now, earliest NextTick first (then by name).
	// limit <= 0 is ErrInvalidArgument.
	DueSchedules(ctx context.Context, now time.Time, limit int) ([]domain.Schedule, error)
}

// ValidateScheduleName rejects an empty or unstorable schedule name.
func ValidateScheduleName(name string) error {
	if err := domain.ValidateName("schedule name", name); err != nil {
		return err
	}
	return ValidateText("schedule name", name, MaxIDBytes)
}

// ValidateSchedule checks what a store can check of a schedule: its name,
// cron text, time zone text, function name, JSON input, policies and a
// set NextTick. Whether the cron expression parses and the zone exists is
// the engine's check.
func ValidateSchedule(s domain.Schedule) error {
	if err := ValidateScheduleName(s.Name); err != nil {
		return err
	}
	if s.Cron == "" {
		return invalid("schedule %q: the cron expression is empty", s.Name)
	}
	if err := ValidateText("cron expression", s.Cron, MaxIDBytes); err != nil {
		return err
	}
	if err := ValidateText("time zone", s.TimeZone, MaxIDBytes); err != nil {
		return err
	}
	if err := domain.ValidateFunctionName(s.Function); err != nil {
		return err
	}
	if err := ValidatePayload("schedule input", s.Input); err != nil {
		return err
	}
	if err := s.CatchUp.Validate(); err != nil {
		return err
	}
	if _, err := domain.ParseOverlap(string(s.Overlap)); err != nil {
		return err
	}
	if s.NextTick.IsZero() {
		return invalid("schedule %q: next tick is not set", s.Name)
	}
	return ValidateText("last execution id", s.LastExecutionID, MaxIDBytes)
}

// ValidateDueLimit rejects a DueSchedules limit below 1.
func ValidateDueLimit(limit int) error {
	if limit <= 0 {
		return invalid("due schedules limit %d; want > 0", limit)
	}
	return nil
}
