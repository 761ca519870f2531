package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func (r *runner) dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and discard dead letters (terminally failed tasks)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(r.dlqListCommand(), r.dlqShowCommand(), r.dlqReplayCommand(), r.dlqReplayAllCommand(), r.dlqDiscardCommand())
	return cmd
}

// dlqFilterFlags are the filters of dlq list and replay-all.
type dlqFilterFlags struct{ queue, function, execution string }

func (f *dlqFilterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.queue, "queue", "", "only dead letters from this queue")
	cmd.Flags().StringVar(&f.function, "function", "", "only dead letters of this step name")
	cmd.Flags().StringVar(&f.execution, "execution", "", "only dead letters of this execution")
}

func (f *dlqFilterFlags) filter() ports.DeadLetterFilter {
	return ports.DeadLetterFilter{Queue: f.queue, StepName: f.function, ExecutionID: f.execution}
}

func (f *dlqFilterFlags) describe() string {
	var parts []string
	for _, p := range []struct{ name, v string }{{"queue", f.queue}, {"function", f.function}, {"execution", f.execution}} {
		if p.v != "" {
			parts = append(parts, fmt.Sprintf("%s %q", p.name, p.v))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *runner) dlqListCommand() *cobra.Command {
	var page pageFlags
	var filter dlqFilterFlags
	cmd := &cobra.Command{Use: "list", Short: "List dead letters, newest first", Args: cobra.NoArgs}
	page.register(cmd, "dead letters")
	filter.register(cmd)
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if err := page.check(); err != nil {
			return err
		}
		f := filter.filter()
		f.Limit, f.Offset = page.limit, page.offset
		return r.withDeadLetters(ctx, readOnly, func(st ports.DeadLetterStore) error {
			dls, err := st.ListDeadLetters(ctx, f)
			if err != nil {
				return fmt.Errorf("list dead letters: %w", err)
			}
			for i := range dls {
				dls[i].Snapshot = publicTask(dls[i].Snapshot)
			}
			if r.json {
				if dls == nil {
					dls = []domain.DeadLetter{}
				}
				return writeJSON(r.env.Stdout, dls)
			}
			if len(dls) == 0 {
				fmt.Fprintln(r.env.Stdout, "no dead letters")
				return nil
			}
			t := newTable("TASK", "EXECUTION", "STEP", "QUEUE", "CODE", "MOVED (UTC)", "MESSAGE")
			for _, dl := range dls {
				msg := dl.Reason
				if dl.Error != nil {
					msg = dl.Error.Message
				}
				t.add(plain(dl.TaskID), plain(dl.ExecutionID), plain(dl.StepName), plain(queueName(dl.Queue)),
					cell{dl.Code, colRed}, plain(fmtTime(&dl.MovedAt)), plain(truncate(msg, 60)))
			}
			t.write(r.env.Stdout, "", r.colour())
			page.moreHint(r.env.Stdout, len(dls))
			return nil
		})
	})
	return cmd
}

func (r *runner) dlqShowCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "show <task-id>", Short: "Show a dead letter: the failure and the task as it failed", Args: cobra.ExactArgs(1)}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withDeadLetters(ctx, readOnly, func(st ports.DeadLetterStore) error {
			dl, err := st.GetDeadLetter(ctx, id)
			if err != nil {
				return notFound(err, "dead letter", id)
			}
			dl.Snapshot = publicTask(dl.Snapshot)
			if r.json {
				return writeJSON(r.env.Stdout, dl)
			}
			r.renderDeadLetter(r.env.Stdout, dl)
			return nil
		})
	})
	return cmd
}

func (r *runner) renderDeadLetter(w io.Writer, dl domain.DeadLetter) {
	colour := r.colour()
	s := dl.Snapshot
	var f fields
	f.addText("Task", dl.TaskID)
	f.addText("Execution", dl.ExecutionID)
	f.addText("Step", dl.StepName)
	f.addText("Kind", string(dl.Kind))
	f.addText("Queue", queueName(dl.Queue))
	f.add("Code", cell{dl.Code, colRed})
	f.addText("Reason", orDash(dl.Reason))
	f.addText("Moved", fmtTimeUTC(&dl.MovedAt))
	f.addText("Attempts", fmt.Sprintf("%d of %d", s.Attempt, s.RetryPolicy.MaxAttempts))
	f.addText("Generation", fmt.Sprint(s.Generation))
	f.addText("Parent", orDash(s.ParentTaskID))
	f.addText("Position", fmt.Sprint(s.Position))
	f.addText("Retry policy", policyLine(s.RetryPolicy))
	f.addText("Created", fmtTimeUTC(&s.CreatedAt))
	f.addText("Started", fmtTimeUTC(s.StartedAt))
	f.addText("Finished", fmtTimeUTC(s.FinishedAt))
	f.addText("Input", compactJSON(s.Input))
	f.addText("Error", errorLine(dl.Error))
	f.write(w, "", colour)
	if dl.Error != nil && dl.Error.Stack != "" {
		fmt.Fprintln(w, "Stack:")
		for line := range strings.SplitSeq(strings.TrimRight(dl.Error.Stack, "\n"), "\n") {
			fmt.Fprintln(w, "  "+line)
		}
	}
}

func replayOptions(queue string, keep bool) []app.ReplayOption {
	var opts []app.ReplayOption
	if queue != "" {
		opts = append(opts, app.WithReplayQueue(queue))
	}
	if keep {
		opts = append(opts, app.KeepAttempts())
	}
	return opts
}

func (r *runner) dlqReplayCommand() *cobra.Command {
	var queue string
	var keep bool
	cmd := &cobra.Command{
		Use:   "replay <task-id>",
		Short: "Re-queue a dead-lettered task under the same id (a root resumes its execution)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&queue, "queue", "", "move the task to this queue")
	cmd.Flags().BoolVar(&keep, "keep-attempts", false, "keep the attempt count instead of starting afresh")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			t, err := eng.ReplayDeadLetter(ctx, id, replayOptions(queue, keep)...)
			if err != nil {
				return replayError(err, id)
			}
			t = publicTask(t)
			if r.json {
				return writeJSON(r.env.Stdout, t)
			}
			fmt.Fprintf(r.env.Stdout, "replayed task %s (execution %s, queue %s, attempt %d)\n",
				t.ID, t.ExecutionID, queueName(t.Queue), t.Attempt)
			return nil
		})
	})
	return cmd
}

// replayError words the replay failures a user can act on.
func replayError(err error, id string) error {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return fmt.Errorf("dead letter %q not found", id)
	case errors.Is(err, domain.ErrExecutionFinished):
		return fmt.Errorf("replay %q: its execution has finished; replay the root task instead", id)
	}
	return err
}

// replayAllView is the JSON of replay-all.
type replayAllView struct {
	Total    int               `json:"total"`
	Replayed int               `json:"replayed"`
	Failed   int               `json:"failed"`
	Errors   map[string]string `json:"errors,omitempty"`
}

func (r *runner) dlqReplayAllCommand() *cobra.Command {
	var filter dlqFilterFlags
	var toQueue string
	var keep, force bool
	cmd := &cobra.Command{
		Use:   "replay-all",
		Short: "Replay every dead letter (or those matching the filters)",
		Args:  cobra.NoArgs,
	}
	filter.register(cmd)
	cmd.Flags().StringVar(&toQueue, "to-queue", "", "move the replayed tasks to this queue")
	cmd.Flags().BoolVar(&keep, "keep-attempts", false, "keep the attempt counts instead of starting afresh")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if err := r.requireConfirmable(force, "replay all dead letters"); err != nil {
			return err
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, st storeurl.Store) error {
			if !force {
				what := "all dead letters"
				if d := filter.describe(); d != "" {
					what = "the dead letters matching " + d
				} else if n, err := st.CountDeadLetters(ctx); err == nil {
					what = fmt.Sprintf("all %d dead letters", n)
				}
				if err := r.confirm(ctx, force, "Replay "+what+"?"); err != nil {
					return err
				}
			}
			res, err := eng.ReplayAllDeadLetters(ctx, filter.filter(), replayOptions(toQueue, keep)...)
			if err != nil {
				return fmt.Errorf("replay all dead letters (%d replayed before the error): %w", res.Replayed, err)
			}
			v := replayAllView{Total: res.Replayed + res.Failed, Replayed: res.Replayed, Failed: res.Failed, Errors: res.Errors}
			if r.json {
				if err := writeJSON(r.env.Stdout, v); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(r.env.Stdout, "replayed %d/%d dead letters\n", v.Replayed, v.Total)
				for _, id := range sortedKeys(v.Errors) {
					fmt.Fprintf(r.env.Stdout, "  %s: %s\n", id, r.message(fmt.Errorf("%s", v.Errors[id])))
				}
			}
			if v.Failed > 0 {
				return fmt.Errorf("%d of %d dead letters could not be replayed", v.Failed, v.Total)
			}
			return nil
		})
	})
	return cmd
}

func (r *runner) dlqDiscardCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "discard <task-id>",
		Short: "Delete a dead letter (only the entry; the task stays failed)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		if err := r.requireConfirmable(force, "discard a dead letter"); err != nil {
			return err
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			dl, err := eng.DeadLetter(ctx, id)
			if err != nil {
				return notFound(err, "dead letter", id)
			}
			if err := r.confirm(ctx, force, fmt.Sprintf("Discard the dead letter of task %s (%s, %s)?", id, dl.StepName, dl.Code)); err != nil {
				return err
			}
			if err := eng.DiscardDeadLetter(ctx, id); err != nil {
				return notFound(err, "dead letter", id)
			}
			if r.json {
				return writeJSON(r.env.Stdout, map[string]string{"discarded": id})
			}
			fmt.Fprintf(r.env.Stdout, "discarded dead letter %s\n", id)
			return nil
		})
	})
	return cmd
}
