package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// parseWorkerStates validates --state values of `stent workers`.
func parseWorkerStates(in []string) (map[domain.WorkerState]bool, error) {
	if len(in) == 0 {
		return nil, nil
	}
	want := map[domain.WorkerState]bool{}
	for _, s := range in {
		st, err := domain.ParseWorkerState(strings.TrimSpace(s))
		if err != nil {
			return nil, usageError(err)
		}
		want[st] = true
	}
	return want, nil
}

func (r *runner) workersCommand() *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the worker registry: live, stopped and dead workers with their last heartbeat",
		Long: `List the workers registered in the database, live ones first: their id,
name, host and pid, state, start time, how long ago their last heartbeat
was, and the queues they serve. A live worker records a heartbeat every few
seconds; one whose heartbeat is too old is declared dead by the others, and
its tasks are reclaimed at once. Stopped and dead workers stay listed until
the retention cleanup removes them.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringSliceVarP(&states, "state", "s", nil, "only these states: live, stopped, dead (repeat or comma-separate)")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		want, err := parseWorkerStates(states)
		if err != nil {
			return err
		}
		return r.withWorkers(ctx, readOnly, func(st ports.WorkerStore) error {
			all, err := st.ListWorkers(ctx)
			if err != nil {
				return fmt.Errorf("list workers: %w", err)
			}
			list := []domain.WorkerInfo{}
			for _, w := range all {
				if want == nil || want[w.State] {
					list = append(list, w)
				}
			}
			if r.json {
				return writeJSON(r.env.Stdout, list)
			}
			r.renderWorkers(r.env.Stdout, list)
			return nil
		})
	})
	return cmd
}

func (r *runner) renderWorkers(w io.Writer, list []domain.WorkerInfo) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no workers")
		return
	}
	now := r.now()
	t := newTable("ID", "NAME", "HOST", "PID", "STATE", "STARTED (UTC)", "LAST HEARTBEAT", "QUEUES")
	for _, wk := range list {
		queues := "(all)"
		if len(wk.Queues) > 0 {
			queues = strings.Join(wk.Queues, ",")
		}
		t.add(plain(wk.ID), plain(orDash(wk.Name)), plain(orDash(wk.Host)), plain(strconv.Itoa(wk.PID)),
			stateCell(string(wk.State)), plain(fmtTime(&wk.StartedAt)), plain(fmtAgo(now, wk.HeartbeatAt)), plain(queues))
	}
	t.write(w, "", r.colour())
}

// fmtAgo prints how long before now t was, rounded for people: "just
// now", "42s ago", "7m ago", "2h5m ago", "3d4h ago".
func fmtAgo(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		d = d.Truncate(time.Second)
	case d < 24*time.Hour:
		d = d.Truncate(time.Minute)
	default:
		d = d.Truncate(time.Hour)
	}
	return fmtDuration(d) + " ago"
}
