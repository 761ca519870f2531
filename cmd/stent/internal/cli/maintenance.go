package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/sqlstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// cleanupView is what cleanup prints (and --json emits).
type cleanupView struct {
	DryRun       bool      `json:"dry_run"`
	Before       time.Time `json:"before"`
	Kinds        []string  `json:"kinds"`
	Executions   int64     `json:"executions"`
	Tasks        int64     `json:"tasks"`
	DeadLetters  int64     `json:"dead_letters"`
	CacheEntries int64     `json:"cache_entries"`
	Signals      int64     `json:"signals"`
	Workers      int64     `json:"workers"`
}

func (v *cleanupView) fill(res ports.CleanupResult) {
	v.Executions, v.Tasks, v.DeadLetters, v.CacheEntries, v.Signals = res.Executions, res.Tasks, res.DeadLetters, res.CacheEntries, res.Signals
	v.Workers = res.Workers
}

func (v cleanupView) summary() string {
	return fmt.Sprintf("%d executions (%d tasks), %d dead letters, %d cache entries, %d signals, %d workers",
		v.Executions, v.Tasks, v.DeadLetters, v.CacheEntries, v.Signals, v.Workers)
}

func (r *runner) cleanupCommand() *cobra.Command {
	// The same default as the service's retention (STENT_RETENTION).
	olderThan := durationFlag{d: app.DefaultRetention}
	var executions, dlq, cache, signals, workers, all, dryRun, force bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete finished executions, dead letters, consumed signals, expired cache entries and gone workers",
		Long: `Delete what is older than --older-than: finished executions with all their
rows, dead letters, consumed signals, expired cache entries, and the
registry rows of stopped or dead workers. Live executions and live workers
are never touched; idempotency records are kept. Without a kind flag every
kind is cleaned. --dry-run prints the counts it would delete.`,
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.Var(&olderThan, "older-than", "delete what finished (or was moved, or created) longer ago than this")
	fl.BoolVar(&executions, "executions", false, "finished executions with their tasks, signals and data")
	fl.BoolVar(&dlq, "dlq", false, "dead letters")
	fl.BoolVar(&cache, "cache", false, "expired cache entries")
	fl.BoolVar(&signals, "signals", false, "consumed signals")
	fl.BoolVar(&workers, "workers", false, "registry rows of stopped and dead workers")
	fl.BoolVar(&all, "all", false, "every kind (the default)")
	fl.BoolVar(&dryRun, "dry-run", false, "only count what would be deleted")
	fl.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if olderThan.d <= 0 {
			return usagef("--older-than %s: must be positive", olderThan.String())
		}
		if !dryRun {
			if err := r.requireConfirmable(force, "clean up"); err != nil {
				return err
			}
		}
		if all || !(executions || dlq || cache || signals || workers) {
			executions, dlq, cache, signals, workers = true, true, true, true, true
		}
		now := r.now()
		before := now.Add(-olderThan.d)
		p := ports.CleanupParams{}
		v := cleanupView{DryRun: dryRun, Before: before}
		if executions {
			p.ExecutionsBefore = before
			v.Kinds = append(v.Kinds, "executions")
		}
		if dlq {
			p.DeadLettersBefore = before
			v.Kinds = append(v.Kinds, "dlq")
		}
		if cache {
			p.Now = now
			v.Kinds = append(v.Kinds, "cache")
		}
		if signals {
			p.SignalsBefore = before
			v.Kinds = append(v.Kinds, "signals")
		}
		if workers {
			p.WorkersBefore = before
			v.Kinds = append(v.Kinds, "workers")
		}
		return r.withMaintenance(ctx, readWrite, func(st ports.Maintenance) error {
			if !dryRun && !force {
				probe := p
				probe.DryRun = true
				res, err := st.Cleanup(ctx, probe)
				if err != nil {
					return fmt.Errorf("cleanup: %w", err)
				}
				would := v
				would.fill(res)
				if err := r.confirm(ctx, force, fmt.Sprintf("Delete %s older than %s?", would.summary(), fmtTimeUTC(&before))); err != nil {
					return err
				}
			}
			p.DryRun = dryRun
			res, err := st.Cleanup(ctx, p)
			if err != nil {
				return fmt.Errorf("cleanup: %w", err)
			}
			v.fill(res)
			if r.json {
				return writeJSON(r.env.Stdout, v)
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			fmt.Fprintf(r.env.Stdout, "%s (older than %s, before %s; %s):\n", verb, fmtDuration(olderThan.d), fmtTimeUTC(&before), strings.Join(v.Kinds, ", "))
			var f fields
			f.addText("executions", fmt.Sprint(v.Executions))
			f.addText("tasks", fmt.Sprint(v.Tasks))
			f.addText("dead letters", fmt.Sprint(v.DeadLetters))
			f.addText("cache entries", fmt.Sprint(v.CacheEntries))
			f.addText("signals", fmt.Sprint(v.Signals))
			f.addText("workers", fmt.Sprint(v.Workers))
			f.write(r.env.Stdout, "  ", false)
			return nil
		})
	})
	return cmd
}

// schemaView is what migrate prints.
type schemaView struct {
	Current  int  `json:"current"`
	Latest   int  `json:"latest"`
	UpToDate bool `json:"up_to_date"`
}

func (r *runner) migrateCommand() *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the database or upgrade its schema (--status only reports versions)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&status, "status", false, "print the schema versions; change nothing")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		mode := migrating
		if status {
			mode = schemaStatus
		}
		return r.withMigrator(ctx, mode, func(st ports.Migrator) error {
			if !status {
				if err := st.Migrate(ctx); err != nil {
					return fmt.Errorf("migrate: %w", err)
				}
			}
			cur, latest, err := st.SchemaVersion(ctx)
			if err != nil {
				return fmt.Errorf("schema version: %w", err)
			}
			v := schemaView{Current: cur, Latest: latest, UpToDate: cur == latest}
			if r.json {
				return writeJSON(r.env.Stdout, v)
			}
			fmt.Fprintln(r.env.Stdout, schemaLine(cur, latest))
			return nil
		})
	})
	return cmd
}

// schemaLine says how many of the migrations this binary knows are
// applied: "schema version 0 of 3 applied: 3 migrations pending; run
// `stent migrate`".
func schemaLine(cur, latest int) string {
	state := "up to date"
	switch {
	case cur > latest:
		state = fmt.Sprintf("the database is newer than this binary (it knows %d); upgrade stent", latest)
	case latest-cur == 1:
		state = "1 migration pending; run `stent migrate`"
	case cur < latest:
		state = fmt.Sprintf("%d migrations pending; run `stent migrate`", latest-cur)
	}
	return fmt.Sprintf("schema version %d of %d applied: %s", cur, latest, state)
}

// versionView is what version prints.
type versionView struct {
	Version string `json:"version"`
	Schema  int    `json:"schema"`
	Go      string `json:"go"`
}

func (r *runner) versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the stent version and the schema version it needs",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = r.run(func(context.Context, []string) error {
		ms, err := sqlstore.Migrations("sqlite")
		if err != nil || len(ms) == 0 {
			return errors.Join(errors.New("version: no embedded migrations"), err)
		}
		v := versionView{Version: r.env.Version, Schema: ms[len(ms)-1].Version, Go: runtime.Version()}
		if r.json {
			return writeJSON(r.env.Stdout, v)
		}
		fmt.Fprintf(r.env.Stdout, "stent %s (schema version %d, %s)\n", v.Version, v.Schema, v.Go)
		return nil
	})
	return cmd
}
