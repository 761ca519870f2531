package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// scheduleColumns is the column list every schedule read selects.
const scheduleColumns = `name, cron_spec, time_zone, function_name, input, catch_up, overlap, paused,
 next_tick, last_tick, last_execution_id, version, created_at, updated_at`

func scanSchedule(r rowScanner) (domain.Schedule, error) {
	var (
		s                        domain.Schedule
		input                    []byte
		catchUp, overlap         string
		paused, version          int64
		next, last, created, upd nullTime
	)
	if err := r.Scan(&s.Name, &s.Cron, &s.TimeZone, &s.Function, &input, &catchUp, &overlap, &paused,
		&next, &last, &s.LastExecutionID, &version, &created, &upd); err != nil {
		return s, err
	}
	var err error
	if s.CatchUp, err = domain.ParseCatchUp(catchUp); err != nil {
		return s, err
	}
	s.Input, s.Overlap, s.Paused, s.Version = rawOrNil(input), domain.Overlap(overlap), paused == 1, version
	s.NextTick, s.LastTick, s.CreatedAt, s.UpdatedAt = next.val(), last.ptr(), created.val(), upd.val()
	return s, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// CreateSchedule inserts a schedule; ErrConflict when the name is taken.
func (s *Store) CreateSchedule(ctx context.Context, sc domain.Schedule, now time.Time) (domain.Schedule, error) {
	if err := s.valid(ports.ValidateSchedule(sc)); err != nil {
		return domain.Schedule{}, err
	}
	var out domain.Schedule
	err := s.write(ctx, "create schedule", func(t *txn) error {
		var n int64
		if err := t.queryRow(`SELECT COUNT(*) FROM @schedules WHERE name = ?`, sc.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return s.errorf("schedule %q already exists: %w", sc.Name, domain.ErrConflict)
		}
		row := t.queryRow(`INSERT INTO @schedules (`+scheduleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
 RETURNING `+scheduleColumns,
			sc.Name, sc.Cron, sc.TimeZone, sc.Function, payload(sc.Input), sc.CatchUp.String(), string(sc.Overlap),
			boolInt(sc.Paused), s.tm(sc.NextTick), s.tmp(sc.LastTick), sc.LastExecutionID, s.tm(now), s.tm(now))
		var err error
		out, err = scanSchedule(row)
		if err != nil && s.d.UniqueViolation(err) {
			return s.errorf("schedule %q already exists: %w", sc.Name, domain.ErrConflict)
		}
		return err
	})
	return out, err
}

// GetSchedule returns one schedule, or ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, name string) (domain.Schedule, error) {
	if err := s.valid(ports.ValidateScheduleName(name)); err != nil {
		return domain.Schedule{}, err
	}
	if err := s.check(); err != nil {
		return domain.Schedule{}, err
	}
	out, err := scanSchedule(s.queryRow(ctx, `SELECT `+scheduleColumns+` FROM @schedules WHERE name = ?`, name))
	if isNoRows(err) {
		return domain.Schedule{}, s.notFound("schedule", name)
	}
	return out, s.wrap(err, "get schedule")
}

// ListSchedules returns every schedule ordered by name.
func (s *Store) ListSchedules(ctx context.Context) ([]domain.Schedule, error) {
	return s.listSchedules(ctx, "list schedules", `SELECT `+scheduleColumns+` FROM @schedules ORDER BY name`)
}

// DueSchedules returns unpaused schedules whose next tick is <= now.
func (s *Store) DueSchedules(ctx context.Context, now time.Time, limit int) ([]domain.Schedule, error) {
	if err := s.valid(ports.ValidateDueLimit(limit)); err != nil {
		return nil, err
	}
	return s.listSchedules(ctx, "due schedules", `SELECT `+scheduleColumns+` FROM @schedules
 WHERE paused = 0 AND next_tick <= ? ORDER BY next_tick, name LIMIT ?`, s.tm(now), int64(limit))
}

func (s *Store) listSchedules(ctx context.Context, op, query string, args ...any) ([]domain.Schedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	defer rows.Close()
	out := []domain.Schedule{}
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, s.wrap(err, op)
		}
		out = append(out, sc)
	}
	return out, s.wrap(rows.Err(), op)
}

// UpdateSchedule replaces a schedule if its stored version is sc.Version.
func (s *Store) UpdateSchedule(ctx context.Context, sc domain.Schedule, now time.Time) (domain.Schedule, error) {
	if err := s.valid(ports.ValidateSchedule(sc)); err != nil {
		return domain.Schedule{}, err
	}
	var out domain.Schedule
	err := s.write(ctx, "update schedule", func(t *txn) error {
		row := t.queryRow(`UPDATE @schedules SET cron_spec = ?, time_zone = ?, function_name = ?, input = ?,
 catch_up = ?, overlap = ?, paused = ?, next_tick = ?, last_tick = ?, last_execution_id = ?,
 version = version + 1, updated_at = ? WHERE name = ? AND version = ? RETURNING `+scheduleColumns,
			sc.Cron, sc.TimeZone, sc.Function, payload(sc.Input), sc.CatchUp.String(), string(sc.Overlap),
			boolInt(sc.Paused), s.tm(sc.NextTick), s.tmp(sc.LastTick), sc.LastExecutionID, s.tm(now),
			sc.Name, sc.Version)
		var err error
		out, err = scanSchedule(row)
		if !isNoRows(err) {
			return err
		}
		var version int64
		switch err := t.queryRow(`SELECT version FROM @schedules WHERE name = ?`, sc.Name).Scan(&version); {
		case isNoRows(err):
			return s.notFound("schedule", sc.Name)
		case err != nil:
			return err
		}
		return s.errorf("schedule %q is at version %d, not %d: %w", sc.Name, version, sc.Version, domain.ErrConflict)
	})
	return out, err
}

// DeleteSchedule removes a schedule; ErrNotFound if absent.
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	if err := s.valid(ports.ValidateScheduleName(name)); err != nil {
		return err
	}
	return s.write(ctx, "delete schedule", func(t *txn) error {
		n, err := t.execN(`DELETE FROM @schedules WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.notFound("schedule", name)
		}
		return nil
	})
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
