package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func (r *runner) schedulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schedules",
		Aliases: []string{"schedule"},
		Short:   "List, create, pause, resume, delete and trigger cron schedules",
		Long: `Cron schedules start a durable function with a fixed input at each tick of
a cron expression, read in a time zone. Workers fire them: each tick starts
exactly one execution, with the id schedule:<name>@<tick in UTC>, however
many workers run.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(r.schedulesListCommand(), r.schedulesCreateCommand(), r.schedulesPauseCommand(true),
		r.schedulesPauseCommand(false), r.schedulesDeleteCommand(), r.schedulesTriggerCommand())
	return cmd
}

func (r *runner) schedulesListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the schedules with their next and last ticks",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		return r.withEngine(ctx, readOnly, func(eng *app.Engine, _ storeurl.Store) error {
			list, err := eng.Schedules(ctx)
			if err != nil {
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, list)
			}
			r.renderSchedules(r.env.Stdout, list)
			return nil
		})
	})
	return cmd
}

func (r *runner) renderSchedules(w io.Writer, list []domain.Schedule) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no schedules")
		return
	}
	t := newTable("NAME", "CRON", "TIME ZONE", "FUNCTION", "STATE", "NEXT TICK (UTC)", "LAST TICK (UTC)", "CATCH-UP", "OVERLAP")
	for _, s := range list {
		t.add(plain(s.Name), plain(s.Cron), plain(scheduleZone(s)), plain(s.Function), plain(scheduleState(s)), plain(fmtTime(&s.NextTick)),
			plain(fmtTime(s.LastTick)), plain(s.CatchUp.String()), plain(string(s.Overlap)))
	}
	t.write(w, "", r.colour())
}

// scheduleZone is the zone a schedule's expression is read in.
func scheduleZone(s domain.Schedule) string {
	if s.TimeZone == "" {
		return "UTC"
	}
	return s.TimeZone
}

// scheduleState reads "paused" or "active".
func scheduleState(s domain.Schedule) string {
	if s.Paused {
		return "paused"
	}
	return "active"
}

func (r *runner) renderSchedule(w io.Writer, s domain.Schedule) {
	var f fields
	f.addText("Schedule", s.Name)
	f.addText("Cron", s.Cron)
	f.addText("Time zone", scheduleZone(s))
	f.addText("Function", s.Function)
	f.addText("Input", string(s.Input))
	f.addText("State", scheduleState(s))
	f.addText("Catch-up", s.CatchUp.String())
	f.addText("Overlap", string(s.Overlap))
	f.addText("Next tick", fmtTimeUTC(&s.NextTick))
	f.addText("Last tick", fmtTimeUTC(s.LastTick))
	f.addText("Last run", orDash(s.LastExecutionID))
	f.write(w, "", r.colour())
}

func (r *runner) schedulesCreateCommand() *cobra.Command {
	var tz, catchUp, overlap, inputFile string
	var paused bool
	cmd := &cobra.Command{
		Use:   "create <name> <cron> <function> [input-json]",
		Short: "Create a schedule (input is JSON, default null)",
		Long: `Create a cron schedule. The expression has 5 fields (minute hour
day-of-month month day-of-week), 6 with a leading seconds field, or is one
of @yearly, @monthly, @weekly, @daily, @hourly; it is read in --tz (an IANA
name, default UTC). The function must be in the catalogue workers publish.

  stent schedules create nightly-report "0 3 * * *" report '{"kind":"daily"}' --tz Europe/Paris`,
		Args: cobra.RangeArgs(3, 4),
	}
	fl := cmd.Flags()
	fl.StringVar(&tz, "tz", "", "IANA time zone the expression is read in (default UTC)")
	fl.StringVar(&catchUp, "catch-up", "once", "missed ticks after downtime: skip, once or all:N")
	fl.StringVar(&overlap, "overlap", "skip", "a tick while the previous run is live: allow, skip or queue_one")
	fl.BoolVar(&paused, "paused", false, "create the schedule paused")
	inputFileFlag(fl, &inputFile)
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		input, err := r.readInput(args, 3, inputFile)
		if err != nil {
			return err
		}
		c, err := domain.ParseCatchUp(catchUp)
		if err != nil {
			return usageError(err)
		}
		o, err := domain.ParseOverlap(overlap)
		if err != nil {
			return usageError(err)
		}
		def := app.ScheduleDef{Name: args[0], Cron: args[1], Function: args[2], Input: input, TimeZone: tz,
			CatchUp: c, Overlap: o, Paused: paused}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			s, err := eng.CreateSchedule(ctx, def)
			if err != nil {
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, s)
			}
			r.renderSchedule(r.env.Stdout, s)
			return nil
		})
	})
	return cmd
}

func (r *runner) schedulesPauseCommand(pause bool) *cobra.Command {
	use, short := "resume <name>", "Let a paused schedule fire again, from its first tick after now"
	if pause {
		use, short = "pause <name>", "Stop a schedule from firing until it is resumed"
	}
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1)}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		name := args[0]
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			var s domain.Schedule
			var err error
			if pause {
				s, err = eng.PauseSchedule(ctx, name)
			} else {
				s, err = eng.ResumeSchedule(ctx, name)
			}
			if err != nil {
				return notFound(err, "schedule", name)
			}
			if r.json {
				return writeJSON(r.env.Stdout, s)
			}
			if pause {
				fmt.Fprintf(r.env.Stdout, "paused schedule %s\n", name)
			} else {
				fmt.Fprintf(r.env.Stdout, "resumed schedule %s; next tick %s\n", name, fmtTimeUTC(&s.NextTick))
			}
			return nil
		})
	})
	return cmd
}

func (r *runner) schedulesDeleteCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete <name>",
		Short: "Delete a schedule (the executions it started stay)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		name := args[0]
		if err := r.requireConfirmable(force, "delete a schedule"); err != nil {
			return err
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			s, err := eng.Schedule(ctx, name)
			if err != nil {
				return notFound(err, "schedule", name)
			}
			if err := r.confirm(ctx, force, fmt.Sprintf("Delete the schedule %s (%s, %s)?", name, s.Cron, s.Function)); err != nil {
				return err
			}
			if err := eng.DeleteSchedule(ctx, name); err != nil {
				return notFound(err, "schedule", name)
			}
			if r.json {
				return writeJSON(r.env.Stdout, map[string]string{"deleted": name})
			}
			fmt.Fprintf(r.env.Stdout, "deleted schedule %s\n", name)
			return nil
		})
	})
	return cmd
}

func (r *runner) schedulesTriggerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger <name>",
		Short: "Start the schedule's function now, outside its ticks, and print the execution id",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		name := args[0]
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			id, err := eng.TriggerSchedule(ctx, name)
			if err != nil {
				return notFound(err, "schedule", name)
			}
			if r.json {
				return writeJSON(r.env.Stdout, map[string]string{"execution_id": id})
			}
			fmt.Fprintln(r.env.Stdout, id)
			return nil
		})
	})
	return cmd
}
