package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func (r *runner) tasksCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List and show tasks (roots, child calls, sleeps, signal waits, links)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(r.tasksListCommand(), r.tasksShowCommand())
	return cmd
}

func (r *runner) tasksListCommand() *cobra.Command {
	var page pageFlags
	var states, kinds []string
	var execution, queue, step string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first",
		Args:  cobra.NoArgs,
	}
	page.register(cmd, "tasks")
	cmd.Flags().StringVar(&execution, "execution", "", "only tasks of this execution")
	cmd.Flags().StringVar(&queue, "queue", "", "only tasks in this queue")
	cmd.Flags().StringVar(&step, "function", "", "only tasks of this step name")
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "only these kinds: orchestrator, activity, sleep, signal, link")
	cmd.Flags().StringSliceVarP(&states, "state", "s", nil, "only these states (repeat or comma-separate)")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if err := page.check(); err != nil {
			return err
		}
		f := ports.TaskFilter{ExecutionID: execution, Queue: queue, StepName: step, Limit: page.limit, Offset: page.offset}
		for _, s := range states {
			st, err := domain.ParseTaskState(strings.TrimSpace(s))
			if err != nil {
				return usageError(err)
			}
			f.States = append(f.States, st)
		}
		for _, s := range kinds {
			k, err := domain.ParseTaskKind(strings.TrimSpace(s))
			if err != nil {
				return usageError(err)
			}
			f.Kinds = append(f.Kinds, k)
		}
		return r.withTasks(ctx, readOnly, func(st ports.TaskReader) error {
			tasks, err := st.ListTasks(ctx, f)
			if err != nil {
				return fmt.Errorf("list tasks: %w", err)
			}
			for i := range tasks {
				tasks[i] = publicTask(tasks[i])
			}
			if r.json {
				if tasks == nil {
					tasks = []domain.Task{}
				}
				return writeJSON(r.env.Stdout, tasks)
			}
			if len(tasks) == 0 {
				fmt.Fprintln(r.env.Stdout, "no tasks")
				return nil
			}
			t := newTable("ID", "EXECUTION", "KIND", "STEP", "STATE", "QUEUE", "ATTEMPT", "CREATED (UTC)")
			for _, tk := range tasks {
				t.add(plain(tk.ID), plain(tk.ExecutionID), plain(string(tk.Kind)), plain(tk.StepName),
					stateCell(string(tk.State)), plain(queueName(tk.Queue)), plain(fmt.Sprint(tk.Attempt)),
					plain(fmtTime(&tk.CreatedAt)))
			}
			t.write(r.env.Stdout, "", r.colour())
			page.moreHint(r.env.Stdout, len(tasks))
			return nil
		})
	})
	return cmd
}

func (r *runner) tasksShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <task-id>",
		Short: "Show a task: attempts, recoveries, generation, wake time, worker, lease, policy, keys and errors",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withTasks(ctx, readOnly, func(st ports.TaskReader) error {
			tk, err := st.GetTask(ctx, id)
			if err != nil {
				return notFound(err, "task", id)
			}
			tk = publicTask(tk)
			if r.json {
				return writeJSON(r.env.Stdout, tk)
			}
			r.renderTask(r.env.Stdout, tk)
			return nil
		})
	})
	return cmd
}

// publicTask hides the claim token: it is the fence of a worker's claim,
// not something to copy around.
func publicTask(t domain.Task) domain.Task {
	t.ClaimToken = ""
	return t
}

func (r *runner) renderTask(w io.Writer, t domain.Task) {
	colour := r.colour()
	var f fields
	f.addText("Task", t.ID)
	f.addText("Execution", t.ExecutionID)
	f.addText("Parent", orDash(t.ParentTaskID))
	f.addText("Position", fmt.Sprint(t.Position))
	f.addText("Kind", string(t.Kind))
	f.addText("Step", t.StepName)
	f.add("State", stateCell(string(t.State)))
	f.addText("Queue", queueName(t.Queue))
	f.addText("Priority", fmt.Sprint(t.Priority))
	f.addText("Tags", joinOrDash(t.Tags))
	limit := "none"
	if t.MaxConcurrent > 0 {
		limit = fmt.Sprint(t.MaxConcurrent)
	}
	f.addText("Max concurrent", limit)
	f.addText("Attempt", fmt.Sprintf("%d of %d", t.Attempt, t.RetryPolicy.MaxAttempts))
	f.addText("Recoveries", fmt.Sprintf("%d of %d", t.Recoveries, t.RetryPolicy.RecoveryBudget()))
	f.addText("Generation", fmt.Sprintf("%d (parent generation %d)", t.Generation, t.ParentGeneration))
	if t.WakeAt != nil {
		f.addText("Wake at", fmtTimeUTC(t.WakeAt))
	}
	f.addText("Worker", orDash(t.WorkerID))
	f.addText("Lease expires", fmtTimeUTC(t.LeaseExpiresAt))
	f.addText("Retry policy", policyLine(t.RetryPolicy))
	f.addText("Idempotency key", orDash(t.IdempotencyKey))
	f.addText("Cache key", orDash(t.CacheKey))
	f.addText("Link owner", orDash(t.LinkOwnerID))
	f.addText("Created", fmtTimeUTC(&t.CreatedAt))
	f.addText("Scheduled", fmtTimeUTC(t.ScheduledFor))
	f.addText("Started", fmtTimeUTC(t.StartedAt))
	f.addText("Finished", fmtTimeUTC(t.FinishedAt))
	f.addText("Deadline", fmtTimeUTC(t.Deadline))
	f.addText("Input", compactJSON(t.Input))
	if t.State == domain.TaskCompleted {
		f.addText("Result", compactJSON(t.Result))
	}
	f.addText("Error", errorLine(t.Error))
	f.addText("Last error", errorLine(t.LastError))
	f.write(w, "", colour)
}

// policyLine summarises a retry policy.
func policyLine(p domain.RetryPolicy) string {
	jitter := "none"
	if p.Jitter > domain.NoJitter {
		jitter = fmtNumber(p.Jitter)
	}
	s := fmt.Sprintf("%d attempts, %s initial, x%s, %s max, jitter %s",
		p.MaxAttempts, fmtDuration(p.InitialDelay), fmtNumber(p.BackoffFactor), fmtDuration(p.MaxDelay), jitter)
	if len(p.RetryOn) > 0 {
		s += "; retry on " + strings.Join(p.RetryOn, ",")
	}
	if len(p.NonRetryable) > 0 {
		s += "; never retry " + strings.Join(p.NonRetryable, ",")
	}
	return s
}
