package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func (r *runner) queuesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queues",
		Short: "List the queues (pending, running, oldest pending, paused) and flow limits in use; pause and resume them",
		Long: `List the queues that hold pending or running tasks or were ever paused:
how many runnable tasks wait in each (pending, including those scheduled
for later), how many run, how old the oldest pending task is, and whether
the queue is paused.

Below them, the flow limits with live work (WithConcurrency,
WithQueueConcurrency, WithMaxConcurrent, WithRateLimit,
WithQueueRateLimit): each group's limit and its current use (running
tasks, or starts in the rate window ending now) and its pending tasks;
a full group is marked. --json prints {"queues": [...], "limits": [...]}.

A paused queue still accepts dispatches, and its running tasks finish, but
no worker starts, resumes or reclaims one of its tasks until it is
resumed. The pause is stored in the database, so it holds for every
worker of every process.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		return r.withStore(ctx, readOnly, func(st storeurl.Store) error {
			list, err := st.ListQueues(ctx)
			if err != nil {
				return fmt.Errorf("list queues: %w", err)
			}
			limits, err := st.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: r.now(), Limit: limitRows})
			if err != nil {
				return fmt.Errorf("list limit usage: %w", err)
			}
			if list == nil {
				list = []domain.QueueInfo{}
			}
			if limits == nil {
				limits = []domain.LimitUsage{}
			}
			if r.json {
				return writeJSON(r.env.Stdout, queuesView{Queues: list, Limits: limits})
			}
			r.renderQueues(r.env.Stdout, list)
			r.renderLimits(r.env.Stdout, limits)
			return nil
		})
	})
	cmd.AddCommand(r.queuePauseCommand(true), r.queuePauseCommand(false))
	return cmd
}

// limitRows caps the limit groups stent queues lists.
const limitRows = 200

// queuesView is the JSON answer of stent queues.
type queuesView struct {
	Queues []domain.QueueInfo  `json:"queues"`
	Limits []domain.LimitUsage `json:"limits"`
}

// queueChange is the JSON answer of queues pause and resume.
type queueChange struct {
	Queue   string `json:"queue"`
	Paused  bool   `json:"paused"`
	Changed bool   `json:"changed"`
}

// queuePauseCommand is `queues pause <name>` (pause) or `queues resume
// <name>`.
func (r *runner) queuePauseCommand(pause bool) *cobra.Command {
	verb, done, short := "resume", "resumed", "Let workers claim a paused queue's tasks again"
	if pause {
		verb, done, short = "pause", "paused", "Stop workers from starting a queue's tasks (dispatch still works)"
	}
	cmd := &cobra.Command{
		Use:   verb + " <queue>",
		Short: short,
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		name := args[0]
		if err := domain.ValidateName("queue", name); err != nil {
			return usageError(err)
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			set := eng.ResumeQueue
			if pause {
				set = eng.PauseQueue
			}
			changed, err := set(ctx, name)
			if err != nil {
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, queueChange{Queue: name, Paused: pause, Changed: changed})
			}
			if changed {
				fmt.Fprintf(r.env.Stdout, "queue %s %s\n", name, done)
			} else {
				state := "was not paused"
				if pause {
					state = "was already paused"
				}
				fmt.Fprintf(r.env.Stdout, "queue %s %s\n", name, state)
			}
			return nil
		})
	})
	return cmd
}

func (r *runner) renderQueues(w io.Writer, list []domain.QueueInfo) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no queues")
		return
	}
	now := r.now()
	t := newTable("QUEUE", "PENDING", "RUNNING", "OLDEST PENDING", "PAUSED", "PAUSED SINCE (UTC)")
	for _, q := range list {
		paused := cell{"no", colGreen}
		if q.Paused {
			paused = cell{"yes", colYellow}
		}
		t.add(plain(queueName(q.Name)), plain(strconv.FormatInt(q.Pending, 10)), plain(strconv.FormatInt(q.Running, 10)),
			plain(fmtAge(now, q.OldestPendingAt)), paused, plain(fmtTime(q.PausedAt)))
	}
	t.write(w, "", r.colour())
}

// renderLimits prints the flow-limit groups in use after a blank line;
// nothing when there is none.
func (r *runner) renderLimits(w io.Writer, list []domain.LimitUsage) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(w)
	t := newTable("LIMIT", "SCOPE", "ON", "KEY", "IN USE", "PER", "PENDING")
	for _, u := range list {
		use := plain(fmt.Sprintf("%d/%d", u.InUse, u.Limit))
		if u.Full() {
			use = cell{use.text + " full", colYellow}
		}
		key, per := u.Key, "-"
		if key == "" {
			key = "-"
		}
		if u.Kind == domain.LimitRate {
			per = fmtDuration(u.Per)
		}
		t.add(plain(string(u.Kind)), plain(string(u.Scope)), plain(u.Name), plain(key), use, plain(per),
			plain(strconv.FormatInt(u.Pending, 10)))
	}
	t.write(w, "", r.colour())
	if len(list) == limitRows {
		fmt.Fprintf(w, "(first %d groups)\n", limitRows)
	}
}

// fmtAge prints how long ago t was without the "ago" ("-" for none).
func fmtAge(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	if now.Sub(*t) < time.Second {
		return "0s"
	}
	s := fmtAgo(now, *t)
	return s[:len(s)-len(" ago")]
}
