package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// maxListLimit bounds -n for every list command.
const maxListLimit = 1000

// pageFlags are the -n/--offset flags of the list commands.
type pageFlags struct{ limit, offset int }

func (p *pageFlags) register(cmd *cobra.Command, noun string) {
	cmd.Flags().IntVarP(&p.limit, "limit", "n", 20, fmt.Sprintf("how many %s to show (1-%d)", noun, maxListLimit))
	cmd.Flags().IntVar(&p.offset, "offset", 0, fmt.Sprintf("skip this many %s first", noun))
}

func (p *pageFlags) check() error {
	if p.limit < 1 || p.limit > maxListLimit {
		return usagef("-n %d: want 1 to %d", p.limit, maxListLimit)
	}
	if p.offset < 0 {
		return usagef("--offset %d: must not be negative", p.offset)
	}
	return nil
}

// moreHint tells how to see the next page when this one was full.
func (p *pageFlags) moreHint(w io.Writer, n int) {
	if n == p.limit {
		fmt.Fprintf(w, "(first %d shown; --offset %d for more)\n", n, p.offset+n)
	}
}

func parseExecutionStates(in []string) ([]domain.ExecutionState, error) {
	var out []domain.ExecutionState
	for _, s := range in {
		st, err := domain.ParseExecutionState(strings.TrimSpace(s))
		if err != nil {
			return nil, usageError(err)
		}
		out = append(out, st)
	}
	return out, nil
}

func (r *runner) listCommand() *cobra.Command {
	var page pageFlags
	var states []string
	var function, queue, version, idPrefix, text string
	var tags []string
	var from, before agoFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		Example: `  stent list --tag vip --created-from 2h
  stent list --text card_declined --state failed
  stent list --id-prefix 01a246fe --created-before 2030-01-02T15:00:00Z`,
	}
	page.register(cmd, "executions")
	cmd.Flags().StringSliceVarP(&states, "state", "s", nil, "only these states (repeat or comma-separate)")
	cmd.Flags().StringVar(&function, "function", "", "only executions of this root function")
	cmd.Flags().StringVar(&queue, "queue", "", "only executions in this queue")
	cmd.Flags().StringVar(&version, "version", "", "only executions dispatched at this root function version (app.WithVersion)")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "only executions carrying this tag (repeat: every one of them)")
	cmd.Flags().StringVar(&idPrefix, "id-prefix", "", "only executions whose id starts with this")
	cmd.Flags().StringVar(&text, "text", "", "only executions whose input, result or error JSON contains this text (ASCII letters in any case)")
	cmd.Flags().Var(&from, "created-from", "only executions created at or after this time: RFC 3339, or a duration ago (2h, 1d)")
	cmd.Flags().Var(&before, "created-before", "only executions created before this time: RFC 3339, or a duration ago")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if err := page.check(); err != nil {
			return err
		}
		sts, err := parseExecutionStates(states)
		if err != nil {
			return err
		}
		now := r.now()
		f := ports.ExecutionFilter{States: sts, Function: function, Queue: queue, Version: version,
			Tags: tags, IDPrefix: idPrefix, Text: text, CreatedFrom: from.at(now), CreatedBefore: before.at(now),
			Limit: page.limit, Offset: page.offset}
		// Bad filters are a usage error, the same on every store.
		if err := f.Validate(); err != nil {
			return usageError(err)
		}
		return r.withExecutions(ctx, readOnly, func(st ports.ExecutionStore) error {
			execs, err := st.ListExecutions(ctx, f)
			if err != nil {
				return fmt.Errorf("list executions: %w", err)
			}
			if r.json {
				if execs == nil {
					execs = []domain.Execution{}
				}
				return writeJSON(r.env.Stdout, execs)
			}
			if len(execs) == 0 {
				fmt.Fprintln(r.env.Stdout, "no executions")
				return nil
			}
			now := r.now()
			// The VERSION column appears when a listed execution has one.
			versioned := slices.ContainsFunc(execs, func(e domain.Execution) bool { return e.Version != "" })
			head := []string{"ID", "STATE", "FUNCTION", "QUEUE", "STARTED (UTC)", "DURATION"}
			if versioned {
				head = slices.Insert(head, 3, "VERSION")
			}
			t := newTable(head...)
			for _, e := range execs {
				dur := "-"
				if e.StartedAt != nil {
					dur = span(e.CreatedAt, e.StartedAt, e.FinishedAt, now)
				}
				row := []cell{plain(e.ID), stateCell(string(e.State)), plain(e.RootFunction), plain(queueName(e.Queue)),
					plain(fmtTime(e.StartedAt)), plain(dur)}
				if versioned {
					row = slices.Insert(row, 3, plain(orDash(e.Version)))
				}
				t.add(row...)
			}
			t.write(r.env.Stdout, "", r.colour())
			page.moreHint(r.env.Stdout, len(execs))
			return nil
		})
	})
	return cmd
}

func (r *runner) showCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <execution-id>",
		Short: "Show an execution: why it waits, routing, timing, step timeline, data and result",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withEngine(ctx, readOnly, func(eng *app.Engine, _ storeurl.Store) error {
			v, err := eng.StateOf(ctx, id)
			if err != nil {
				return notFound(err, "execution", id)
			}
			if r.json {
				return writeJSON(r.env.Stdout, v)
			}
			r.renderExecution(r.env.Stdout, v)
			return nil
		})
	})
	return cmd
}

// notFound turns ErrNotFound into "<what> "<id>" not found".
func notFound(err error, what, id string) error {
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("%s %q not found", what, id)
	}
	return err
}

// renderExecution prints the show view.
func (r *runner) renderExecution(w io.Writer, v app.ExecutionView) {
	colour, now := r.colour(), r.now()
	var f fields
	f.addText("Execution", v.ID)
	f.add("State", stateCell(string(v.State)))
	if waiting(v.WaitReason) {
		f.addText("Waiting", v.WaitReason)
	}
	f.addText("Function", v.RootFunction)
	if v.Version != "" {
		f.addText("Version", v.Version)
	}
	f.addText("Queue", queueName(v.Queue))
	f.addText("Priority", fmt.Sprint(v.Priority))
	f.addText("Tags", joinOrDash(v.Tags))
	f.addText("Idempotency key", orDash(v.IdempotencyKey))
	if v.SingletonKey != "" {
		f.addText("Singleton key", v.SingletonKey)
	}
	if v.DebounceKey != "" {
		f.addText("Debounce key", v.DebounceKey)
	}
	f.addText("Root task", v.RootTaskID)
	if v.ForkedFrom != "" {
		f.addText("Forked from", v.ForkedFrom)
	}
	f.addText("Attempts", fmt.Sprint(v.RootAttempts))
	f.addText("Recoveries", fmt.Sprint(v.RootRecoveries))
	f.addText("Created", fmtTimeUTC(&v.CreatedAt))
	f.addText("Scheduled", fmtTimeUTC(v.ScheduledFor))
	f.addText("Started", fmtTimeUTC(v.StartedAt))
	f.addText("Finished", fmtTimeUTC(v.FinishedAt))
	dur := "-"
	if v.StartedAt != nil {
		dur = span(v.CreatedAt, v.StartedAt, v.FinishedAt, now)
	}
	f.addText("Duration", dur)
	f.addText("Deadline", fmtTimeUTC(v.Deadline))
	f.addText("Input", compactJSON(v.Input))
	f.write(w, "", colour)

	section(w, "Steps", colour)
	if len(v.Progress) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		depth := map[string]int{}
		t := newTable("#", "STEP", "KIND", "STATE", "ATTEMPT", "STARTED (UTC)", "DURATION", "ERROR")
		for _, p := range v.Progress {
			d := 0
			if p.ParentID != "" {
				d = depth[p.ParentID] + 1
			}
			depth[p.TaskID] = d
			pos := "-"
			if p.ParentID != "" {
				pos = fmt.Sprint(p.Position)
			}
			dur := "-"
			if p.StartedAt != nil || p.FinishedAt != nil || p.State.Live() {
				dur = span(p.CreatedAt, p.StartedAt, p.FinishedAt, now)
			}
			errText := "-"
			if p.Error != nil {
				errText = truncate(errorLine(p.Error), 50)
			}
			t.add(plain(pos), plain(strings.Repeat("  ", d)+p.Step), plain(string(p.Kind)), stateCell(string(p.State)),
				plain(fmt.Sprint(p.Attempt)), plain(fmtTime(p.StartedAt)), plain(dur), plain(errText))
		}
		t.write(w, "  ", colour)
	}

	section(w, "Counters", colour)
	if len(v.Counters) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		var c fields
		for _, k := range sortedKeys(v.Counters) {
			c.addText(k, fmtNumber(v.Counters[k]))
		}
		c.write(w, "  ", colour)
	}
	section(w, "Custom state", colour)
	if len(v.CustomState) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		var c fields
		for _, k := range sortedKeys(v.CustomState) {
			c.addText(k, compactJSON(v.CustomState[k]))
		}
		c.write(w, "  ", colour)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, outcomeLine(v.Execution, colour))
	if v.Outcome != nil && v.Outcome.Error != nil && v.Outcome.Error.Stack != "" {
		fmt.Fprintln(w, "Stack:")
		for line := range strings.SplitSeq(strings.TrimRight(v.Outcome.Error.Stack, "\n"), "\n") {
			fmt.Fprintln(w, "  "+line)
		}
	}
}

// waiting reports whether a wait reason says what the execution waits for.
// A reason that only names the steps running now ("running charge", the
// last kind domain.WaitReason reports) is no wait: the step table shows
// those, so show prints no Waiting line for it (--json keeps the reason).
func waiting(reason string) bool {
	return reason != "" && !strings.HasPrefix(reason, "running ")
}

// outcomeLine is "OK <json>", "Error: <code>: <msg>" or, for a live
// execution, what it is doing.
func outcomeLine(e domain.Execution, colour bool) string {
	paint := func(code, s string) string {
		if colour {
			return "\x1b[" + code + "m" + s + colReset
		}
		return s
	}
	if !e.State.Terminal() {
		return fmt.Sprintf("No result yet: the execution is %s.", e.State)
	}
	res := e.Outcome()
	if res.OK() {
		return paint(colGreen, "OK") + " " + compactJSON(res.Value)
	}
	return paint(colRed, "Error:") + " " + errorLine(res.Error)
}

func (r *runner) cancelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel <execution-id>",
		Short: "Cancel a pending or running execution (a finished one is left as it is)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, st storeurl.Store) error {
			before, err := st.GetExecution(ctx, id)
			if err != nil {
				return notFound(err, "execution", id)
			}
			changed := false
			after := before
			if !before.State.Terminal() {
				if err := eng.Cancel(ctx, id); err != nil {
					return notFound(err, "execution", id)
				}
				if after, err = st.GetExecution(ctx, id); err != nil {
					return notFound(err, "execution", id)
				}
				changed = after.State == domain.ExecutionCancelled
			}
			if r.json {
				return writeJSON(r.env.Stdout, struct {
					ExecutionID string                `json:"execution_id"`
					State       domain.ExecutionState `json:"state"`
					Cancelled   bool                  `json:"cancelled"`
				}{id, after.State, changed})
			}
			if changed {
				fmt.Fprintf(r.env.Stdout, "cancelled %s\n", id)
			} else {
				fmt.Fprintf(r.env.Stdout, "already %s\n", after.State)
			}
			return nil
		})
	})
	return cmd
}
