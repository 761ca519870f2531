package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones for schedules on machines without a zoneinfo database

	"github.com/robfig/cron/v3"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/domain"
)

// Catch-up policies for WithCatchUp: what a schedule does with ticks that
// passed while no worker ran it.
var (
	// CatchUpSkip drops missed ticks: a tick fires only when a worker
	// finds it due within Config.ScheduleMisfireGrace of its time.
	CatchUpSkip = domain.CatchUp{Mode: domain.CatchUpModeSkip}
	// CatchUpOnce fires one execution for the latest missed tick (the
	// default).
	CatchUpOnce = domain.CatchUp{Mode: domain.CatchUpModeOnce}
)

// CatchUpAll fires every missed tick, the most recent bound of them
// (1 to domain.MaxCatchUpBound), oldest first.
func CatchUpAll(bound int) domain.CatchUp {
	return domain.CatchUp{Mode: domain.CatchUpModeAll, Bound: bound}
}

// Overlap policies for WithOverlap: what a tick does while the execution
// of the schedule's previous tick is still live.
const (
	// OverlapAllow starts the new execution anyway.
	OverlapAllow = domain.OverlapAllow
	// OverlapSkip drops the tick (the default).
	OverlapSkip = domain.OverlapSkip
	// OverlapQueueOne holds the tick until the live execution ends, then
	// starts one execution for the latest held tick.
	OverlapQueueOne = domain.OverlapQueueOne
)

// ScheduleDef defines a schedule: CreateSchedule and UpdateSchedule take
// one, Schedule builds one from its options.
type ScheduleDef struct {
	// Name identifies the schedule.
	Name string
	// Cron is the expression: 5 fields (minute hour day-of-month month
	// day-of-week), 6 with a leading seconds field, or @yearly, @monthly,
	// @weekly, @daily, @hourly. Read in TimeZone, with the daylight-saving
	// rules of github.com/robfig/cron/v3: a time skipped by a spring
	// change does not fire, a time repeated by an autumn change fires once.
	Cron string
	// TimeZone is an IANA zone name ("Europe/Paris"); "" is UTC.
	TimeZone string
	// Function is the durable function to start; Input its JSON input
	// (empty is null).
	Function string
	Input    json.RawMessage
	// CatchUp: zero is CatchUpOnce.
	CatchUp domain.CatchUp
	// Overlap: "" is OverlapSkip.
	Overlap domain.Overlap
	// Paused creates the schedule paused (CreateSchedule only; an update
	// keeps the stored state: use PauseSchedule and ResumeSchedule).
	Paused bool
}

// ScheduleOption configures a schedule declared with Schedule.
type ScheduleOption func(*ScheduleDef)

// InTimeZone reads the cron expression in an IANA time zone
// ("Europe/Paris"); the default is UTC.
func InTimeZone(name string) ScheduleOption { return func(d *ScheduleDef) { d.TimeZone = name } }

// WithCatchUp sets the catch-up policy: CatchUpSkip, CatchUpOnce (the
// default) or CatchUpAll(bound).
func WithCatchUp(c domain.CatchUp) ScheduleOption { return func(d *ScheduleDef) { d.CatchUp = c } }

// WithOverlap sets the overlap policy: OverlapAllow, OverlapSkip (the
// default) or OverlapQueueOne.
func WithOverlap(o domain.Overlap) ScheduleOption { return func(d *ScheduleDef) { d.Overlap = o } }

// Schedule declares a cron schedule in reg: at each tick of spec, fn is
// started with input. The engine's workers write it to the store when
// they start (created if absent; a stored schedule of that name whose
// definition differs is updated to this one, keeping its paused state),
// then fire it. Like Register it never panics: a bad name, expression,
// zone or policy, a function not registered in reg, or an input that does
// not encode is kept as an error that New returns, naming the bad value.
func Schedule[I, O any](reg *Registry, name, spec string, fn *Function[I, O], input I, opts ...ScheduleOption) {
	fail := func(err error) {
		if reg != nil {
			reg.fail(fmt.Errorf("stent: schedule %q: %w", name, err))
		}
	}
	if reg == nil {
		return
	}
	if fn == nil {
		fail(domain.InvalidArgument("nil function"))
		return
	}
	if fn.err != nil {
		fail(fn.err)
		return
	}
	raw, err := durable.Encode(input, 0)
	if err != nil {
		fail(err)
		return
	}
	d := ScheduleDef{Name: name, Cron: spec, Function: fn.def.Name, Input: raw}
	for _, o := range opts {
		if o != nil {
			o(&d)
		}
	}
	d, err = d.normalize()
	if err == nil {
		_, _, err = parseCron(d.Cron, d.TimeZone, time.Now())
	}
	if err == nil {
		err = checkScheduleFlow(fn.def, d.Input)
	}
	if err != nil {
		fail(err)
		return
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if cur, ok := reg.funcs[fn.def.Name]; !ok || !cur.Same(fn.def) {
		names := make([]string, 0, len(reg.funcs))
		for n := range reg.funcs {
			names = append(names, n)
		}
		reg.errs = append(reg.errs, fmt.Errorf("stent: schedule %q: %w", name,
			&UnregisteredFunctionError{Name: fn.def.Name, Registered: sortedNames(names), Other: ok}))
		return
	}
	for _, s := range reg.schedules {
		if s.Name == name {
			reg.errs = append(reg.errs, fmt.Errorf("stent: schedule %q: %w", name,
				domain.InvalidArgument("a schedule named %q is already declared", name)))
			return
		}
	}
	reg.schedules = append(reg.schedules, d)
}

// Schedules returns the schedules declared in the registry.
func (r *Registry) Schedules() []ScheduleDef {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]ScheduleDef(nil), r.schedules...)
}

// normalize fills the defaults and checks what needs no clock or store.
func (d ScheduleDef) normalize() (ScheduleDef, error) {
	if err := domain.ValidateName("schedule name", d.Name); err != nil {
		return d, err
	}
	if err := domain.ValidateFunctionName(d.Function); err != nil {
		return d, err
	}
	if d.CatchUp == (domain.CatchUp{}) {
		d.CatchUp = CatchUpOnce
	}
	if err := d.CatchUp.Validate(); err != nil {
		return d, err
	}
	if d.Overlap == "" {
		d.Overlap = OverlapSkip
	}
	if _, err := domain.ParseOverlap(string(d.Overlap)); err != nil {
		return d, err
	}
	if len(d.Input) == 0 {
		d.Input = json.RawMessage("null")
	}
	if !json.Valid(d.Input) {
		return d, domain.InvalidArgument("schedule %q: the input is not valid JSON", d.Name)
	}
	return d, nil
}

// cronParser reads 5 fields, 6 with leading seconds, or a descriptor.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses spec in the zone tz ("" is UTC) and returns the
// schedule, the zone, and an error naming a bad expression or zone, or an
// expression with no tick in the five years after now.
func parseCron(spec, tz string, now time.Time) (cron.Schedule, *time.Location, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, nil, domain.InvalidArgument("unknown time zone %q; want an IANA name such as \"Europe/Paris\", \"America/New_York\" or \"UTC\"", tz)
		}
		loc = l
	}
	trimmed := strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ="):
		return nil, nil, domain.InvalidArgument("cron expression %q: give the time zone with InTimeZone (time_zone, --tz), not a TZ= prefix", spec)
	case strings.HasPrefix(trimmed, "@every"):
		return nil, nil, domain.InvalidArgument("cron expression %q: @every is not supported; write the interval as fields, e.g. \"*/10 * * * * *\" for every 10 seconds", spec)
	}
	cs, err := cronParser.Parse(trimmed)
	if err != nil {
		return nil, nil, domain.InvalidArgument("invalid cron expression %q: %v; want 5 fields (minute hour day-of-month month day-of-week), 6 with a leading seconds field, or @yearly, @monthly, @weekly, @daily, @hourly", spec, err)
	}
	if nextTick(cs, loc, now).IsZero() {
		return nil, nil, domain.InvalidArgument("cron expression %q never fires", spec)
	}
	return cs, loc, nil
}

// nextTick is the first tick strictly after t (UTC), zero if none within
// five years.
func nextTick(cs cron.Schedule, loc *time.Location, t time.Time) time.Time {
	n := cs.Next(t.In(loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// ticksBetween returns the last n ticks in [from, now], oldest first,
// without walking every tick since from: it looks back from now over a
// window that doubles until it holds n ticks or reaches from.
func ticksBetween(cs cron.Schedule, loc *time.Location, from, now time.Time, n int) []time.Time {
	if from.After(now) || n < 1 {
		return nil
	}
	for back := time.Minute; ; back *= 2 {
		start, whole := now.Add(-back), false
		if !start.After(from) {
			start, whole = from, true
		}
		var ring []time.Time
		for t := nextTick(cs, loc, start.Add(-time.Nanosecond)); !t.IsZero() && !t.After(now); t = nextTick(cs, loc, t) {
			if len(ring) == n {
				copy(ring, ring[1:])
				ring = ring[:n-1]
			}
			ring = append(ring, t)
		}
		if len(ring) >= n || whole {
			return ring
		}
	}
}

// checkDef normalises def and checks its expression, zone and function.
func (e *Engine) checkDef(ctx context.Context, def ScheduleDef) (ScheduleDef, cron.Schedule, *time.Location, error) {
	def, err := def.normalize()
	if err != nil {
		return def, nil, nil, err
	}
	if len(def.Input) > e.cfg.MaxPayloadBytes {
		return def, nil, nil, fmt.Errorf("stent: schedule %q: %w: input is %d bytes; the limit is %d", def.Name, ErrPayloadTooLarge, len(def.Input), e.cfg.MaxPayloadBytes)
	}
	cs, loc, err := parseCron(def.Cron, def.TimeZone, e.now())
	if err != nil {
		return def, nil, nil, err
	}
	if _, err := e.known(ctx, def.Function, nil); err != nil {
		return def, nil, nil, err
	}
	if fd, err := e.reg.lookup(def.Function); err == nil {
		if err := checkScheduleFlow(fd, def.Input); err != nil {
			return def, nil, nil, err
		}
	}
	return def, cs, loc, nil
}

// checkScheduleFlow runs the function's flow-limit key functions on the
// schedule's fixed input, so a key that panics or is not a valid name on
// it is an error when the schedule is declared or created, not a tick
// that can never be dispatched.
func checkScheduleFlow(fd *durable.Func, input json.RawMessage) error {
	if fd == nil || fd.Flow == nil {
		return nil
	}
	queue := fd.Queue
	if queue == "" {
		queue = domain.DefaultQueue
	}
	_, err := fd.Flow(input, queue)
	return err
}

// CreateSchedule stores a new schedule; its first tick is the first after
// now. ErrConflict if the name is taken; ErrInvalidArgument naming a bad
// expression, zone or policy; an *UnregisteredFunctionError for a function
// neither registered here nor in the catalogue workers publish.
func (e *Engine) CreateSchedule(ctx context.Context, def ScheduleDef) (domain.Schedule, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Schedule{}, err
	}
	def, cs, loc, err := e.checkDef(ctx, def)
	if err != nil {
		return domain.Schedule{}, wrapSchedule(def.Name, err)
	}
	now := e.now()
	s := domain.Schedule{
		Name: def.Name, Cron: def.Cron, TimeZone: def.TimeZone, Function: def.Function, Input: def.Input,
		CatchUp: def.CatchUp, Overlap: def.Overlap, Paused: def.Paused, NextTick: nextTick(cs, loc, now),
	}
	out, err := e.store.CreateSchedule(ctx, s, now)
	if errors.Is(err, ErrConflict) {
		return out, fmt.Errorf("stent: %w", &scheduleExistsError{name: def.Name})
	}
	return out, wrapSchedule(def.Name, err)
}

func wrapSchedule(name string, err error) error {
	if err == nil || strings.HasPrefix(err.Error(), "stent: ") {
		return err
	}
	return fmt.Errorf("stent: schedule %q: %w", name, err)
}

// changeSchedule applies change to the stored schedule with a
// compare-and-set, reading it again when another writer came first.
func (e *Engine) changeSchedule(ctx context.Context, name string, change func(*domain.Schedule) error) (domain.Schedule, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Schedule{}, err
	}
	for attempt := 0; ; attempt++ {
		s, err := e.store.GetSchedule(ctx, name)
		if err != nil {
			return s, wrapSchedule(name, err)
		}
		if err := change(&s); err != nil {
			return s, wrapSchedule(name, err)
		}
		out, err := e.store.UpdateSchedule(ctx, s, e.now())
		if errors.Is(err, ErrConflict) && attempt < 10 {
			continue
		}
		return out, wrapSchedule(name, err)
	}
}

// UpdateSchedule replaces the definition of the stored schedule def.Name
// (expression, zone, function, input, policies); its paused state is
// kept. A new expression or zone moves the next tick to the first of the
// new definition after now. ErrNotFound for an unknown schedule.
func (e *Engine) UpdateSchedule(ctx context.Context, def ScheduleDef) (domain.Schedule, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Schedule{}, err
	}
	def, cs, loc, err := e.checkDef(ctx, def)
	if err != nil {
		return domain.Schedule{}, wrapSchedule(def.Name, err)
	}
	return e.changeSchedule(ctx, def.Name, func(s *domain.Schedule) error {
		applyDef(s, def, cs, loc, e.now())
		return nil
	})
}

func applyDef(s *domain.Schedule, def ScheduleDef, cs cron.Schedule, loc *time.Location, now time.Time) {
	if s.Cron != def.Cron || s.TimeZone != def.TimeZone {
		s.NextTick = nextTick(cs, loc, now)
	}
	s.Cron, s.TimeZone, s.Function, s.Input = def.Cron, def.TimeZone, def.Function, def.Input
	s.CatchUp, s.Overlap = def.CatchUp, def.Overlap
}

// PauseSchedule stops a schedule from firing; pausing a paused schedule
// changes nothing.
func (e *Engine) PauseSchedule(ctx context.Context, name string) (domain.Schedule, error) {
	return e.changeSchedule(ctx, name, func(s *domain.Schedule) error {
		s.Paused = true
		return nil
	})
}

// ResumeSchedule lets a paused schedule fire again from its first tick
// after now: the ticks of the pause are not caught up.
func (e *Engine) ResumeSchedule(ctx context.Context, name string) (domain.Schedule, error) {
	return e.changeSchedule(ctx, name, func(s *domain.Schedule) error {
		if !s.Paused {
			return nil
		}
		cs, loc, err := parseCron(s.Cron, s.TimeZone, e.now())
		if err != nil {
			return err
		}
		s.Paused, s.NextTick = false, nextTick(cs, loc, e.now())
		return nil
	})
}

// DeleteSchedule removes a schedule (the executions it started stay).
// A schedule declared with Schedule is written again when a worker of a
// registry declaring it starts. ErrNotFound for an unknown schedule.
func (e *Engine) DeleteSchedule(ctx context.Context, name string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	return wrapSchedule(name, e.store.DeleteSchedule(ctx, name))
}

// Schedule returns one stored schedule, or ErrNotFound.
func (e *Engine) Schedule(ctx context.Context, name string) (domain.Schedule, error) {
	if err := e.checkOpen(); err != nil {
		return domain.Schedule{}, err
	}
	s, err := e.store.GetSchedule(ctx, name)
	return s, wrapSchedule(name, err)
}

// Schedules lists the stored schedules by name.
func (e *Engine) Schedules(ctx context.Context) ([]domain.Schedule, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	list, err := e.store.ListSchedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("stent: list schedules: %w", err)
	}
	return list, nil
}

// TriggerSchedule starts the schedule's function now, outside its ticks
// (paused or not), and returns the execution id
// ("schedule:<name>@trigger-<now, RFC 3339>"). The next tick does not move; the
// execution counts as the schedule's latest for the overlap policy.
func (e *Engine) TriggerSchedule(ctx context.Context, name string) (string, error) {
	s, err := e.Schedule(ctx, name)
	if err != nil {
		return "", err
	}
	now := e.now()
	id := "schedule:" + name + "@trigger-" + now.Format(time.RFC3339Nano)
	if _, err := e.startScheduled(ctx, s, id); err != nil {
		return "", wrapSchedule(name, err)
	}
	_, err = e.changeSchedule(ctx, name, func(s *domain.Schedule) error {
		s.LastExecutionID = id
		return nil
	})
	return id, err
}

func sortedNames(names []string) []string {
	slices.Sort(names)
	return names
}

// scheduleExistsError says a schedule name is taken (ErrConflict).
type scheduleExistsError struct{ name string }

func (e *scheduleExistsError) Error() string {
	return fmt.Sprintf("a schedule named %q already exists; update it or pick another name", e.name)
}

func (e *scheduleExistsError) Is(target error) bool { return target == ErrConflict }

// ErrorCode is the code of ErrConflict.
func (e *scheduleExistsError) ErrorCode() string { return "conflict" }
