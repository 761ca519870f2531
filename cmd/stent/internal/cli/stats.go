package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// runningTasksShown bounds the running-task list of stats (and watch).
const runningTasksShown = 10

// statsView is what `stats` prints: counts from count queries plus a
// bounded list of running tasks.
type statsView struct {
	Executions   map[domain.ExecutionState]int64 `json:"executions"`
	Tasks        map[domain.TaskState]int64      `json:"tasks"`
	QueueDepth   map[string]int64                `json:"queue_depth"`
	DeadLetters  int64                           `json:"dead_letters"`
	RunningTasks []runningTask                   `json:"running_tasks"`
}

// runningTask is one line of the running-task list.
type runningTask struct {
	ID             string     `json:"id"`
	ExecutionID    string     `json:"execution_id"`
	Kind           string     `json:"kind"`
	Step           string     `json:"step"`
	Queue          string     `json:"queue"`
	WorkerID       string     `json:"worker_id"`
	Attempt        int        `json:"attempt"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
}

// loadStats reads the counts (eng.Stats: COUNT queries only) and at most
// runningTasksShown running tasks: the only list query it makes.
func loadStats(ctx context.Context, eng *app.Engine, st ports.TaskReader) (statsView, error) {
	s, err := eng.Stats(ctx)
	if err != nil {
		return statsView{}, fmt.Errorf("stats: %w", err)
	}
	v := statsView{
		Executions: map[domain.ExecutionState]int64{}, Tasks: map[domain.TaskState]int64{},
		QueueDepth: s.QueueDepth, DeadLetters: s.DeadLetters, RunningTasks: []runningTask{},
	}
	for _, state := range domain.ExecutionStates {
		v.Executions[state] = s.Executions[state]
	}
	for _, state := range domain.TaskStates {
		v.Tasks[state] = s.Tasks[state]
	}
	if v.QueueDepth == nil {
		v.QueueDepth = map[string]int64{}
	}
	tasks, err := st.ListTasks(ctx, ports.TaskFilter{
		States: []domain.TaskState{domain.TaskRunning},
		Kinds:  []domain.TaskKind{domain.KindOrchestrator, domain.KindActivity},
		Limit:  runningTasksShown,
	})
	if err != nil {
		return statsView{}, fmt.Errorf("stats: running tasks: %w", err)
	}
	for _, t := range tasks {
		v.RunningTasks = append(v.RunningTasks, runningTask{
			ID: t.ID, ExecutionID: t.ExecutionID, Kind: string(t.Kind), Step: t.StepName, Queue: queueName(t.Queue),
			WorkerID: t.WorkerID, Attempt: t.Attempt, StartedAt: t.StartedAt, LeaseExpiresAt: t.LeaseExpiresAt,
		})
	}
	return v, nil
}

func (r *runner) statsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Counts by state, queue depths, dead letters and running tasks (count queries only)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		return r.withEngine(ctx, readOnly, func(eng *app.Engine, st storeurl.Store) error {
			v, err := loadStats(ctx, eng, st)
			if err != nil {
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, v)
			}
			r.renderStats(r.env.Stdout, v)
			return nil
		})
	})
	return cmd
}

func (r *runner) renderStats(w io.Writer, v statsView) {
	colour := r.colour()
	fmt.Fprintln(w, "Executions")
	var total int64
	var ex fields
	for _, s := range domain.ExecutionStates {
		ex.add(string(s), countCell(v.Executions[s], string(s)))
		total += v.Executions[s]
	}
	ex.addText("total", fmt.Sprint(total))
	ex.write(w, "  ", colour)

	section(w, "Tasks", colour)
	var tk fields
	for _, s := range domain.TaskStates {
		tk.add(string(s), countCell(v.Tasks[s], string(s)))
	}
	tk.write(w, "  ", colour)

	section(w, "Queue depth (pending)", colour)
	if len(v.QueueDepth) == 0 {
		fmt.Fprintln(w, "  (empty)")
	} else {
		var q fields
		for _, name := range sortedKeys(v.QueueDepth) {
			q.addText(queueName(name), fmt.Sprint(v.QueueDepth[name]))
		}
		q.write(w, "  ", colour)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Dead letters  %d\n", v.DeadLetters)

	section(w, fmt.Sprintf("Running tasks (up to %d)", runningTasksShown), colour)
	if len(v.RunningTasks) == 0 {
		fmt.Fprintln(w, "  (none)")
		return
	}
	t := newTable("ID", "EXECUTION", "STEP", "WORKER", "ATTEMPT", "STARTED (UTC)", "LEASE EXPIRES (UTC)")
	for _, rt := range v.RunningTasks {
		t.add(plain(rt.ID), plain(rt.ExecutionID), plain(rt.Step), plain(orDash(rt.WorkerID)),
			plain(fmt.Sprint(rt.Attempt)), plain(fmtTime(rt.StartedAt)), plain(fmtTime(rt.LeaseExpiresAt)))
	}
	t.write(w, "  ", colour)
}

// countCell colours a non-zero count by its state.
func countCell(n int64, state string) cell {
	c := plain(fmt.Sprint(n))
	if n > 0 {
		c.color = stateCell(state).color
	}
	return c
}
