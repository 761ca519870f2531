package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Bounds of the watch dashboard's lists.
const (
	watchRunningShown  = 10  // running executions
	watchRecentShown   = 5   // recent failures and dead letters
	watchStepsScanned  = 200 // steps read per running execution for its progress bar
	progressBarWidth   = 20
	ansiClearHome      = "\x1b[H\x1b[2J"
	ansiHideCursor     = "\x1b[?25l"
	ansiShowCursor     = "\x1b[?25h"
	keyCtrlC           = 3
	defaultWatchPeriod = 2 * time.Second
)

// watchFrame is one refresh of the dashboard (one NDJSON line with --json).
type watchFrame struct {
	At          time.Time                       `json:"at"`
	Executions  map[domain.ExecutionState]int64 `json:"executions"`
	Tasks       map[domain.TaskState]int64      `json:"tasks"`
	QueueDepth  map[string]int64                `json:"queue_depth"`
	DeadLetters int64                           `json:"dead_letters"`
	// Throughput is executions finished per second since the previous
	// frame; absent on the first frame.
	Throughput        *float64          `json:"throughput_per_second,omitempty"`
	Running           []watchRunning    `json:"running"`
	RecentFailures    []watchFailure    `json:"recent_failures"`
	RecentDeadLetters []watchDeadLetter `json:"recent_dead_letters"`
	// Error is set when this refresh could not read the store; the
	// dashboard keeps going.
	Error string `json:"error,omitempty"`

	finished int64
}

type watchRunning struct {
	ID         string     `json:"id"`
	Function   string     `json:"function"`
	Queue      string     `json:"queue"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	StepsDone  int        `json:"steps_done"`
	StepsTotal int        `json:"steps_total"`
	// MoreSteps says the execution has more steps than were scanned.
	MoreSteps bool `json:"more_steps,omitempty"`
}

type watchFailure struct {
	ID         string                `json:"id"`
	Function   string                `json:"function"`
	State      domain.ExecutionState `json:"state"`
	FinishedAt *time.Time            `json:"finished_at,omitempty"`
	Error      *domain.TaskError     `json:"error,omitempty"`
}

type watchDeadLetter struct {
	TaskID      string    `json:"task_id"`
	ExecutionID string    `json:"execution_id"`
	Step        string    `json:"step"`
	Code        string    `json:"code"`
	MovedAt     time.Time `json:"moved_at"`
}

func (r *runner) watchCommand() *cobra.Command {
	interval := durationFlag{d: defaultWatchPeriod}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Live dashboard: counts, throughput, running executions, queues, failures (q or Ctrl-C quits)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().VarP(&interval, "interval", "i", "refresh period")
	cmd.RunE = r.run(func(ctx context.Context, _ []string) error {
		if interval.d <= 0 {
			return usagef("-i %s: the refresh period must be positive", interval.String())
		}
		return r.withEngine(ctx, readOnlyLive, func(eng *app.Engine, st storeurl.Store) error {
			return r.watch(ctx, eng, st, interval.d)
		})
	})
	return cmd
}

// watch redraws the dashboard every period until q, Ctrl-C, an interrupt
// or --timeout; all of those end it with success.
// watchStore is what a watch frame reads besides the engine.
type watchStore interface {
	ports.ExecutionStore
	ports.TaskReader
	ports.DeadLetterStore
}

func (r *runner) watch(ctx context.Context, eng *app.Engine, st watchStore, period time.Duration) error {
	out := r.env.Stdout
	tty := r.env.StdoutIsTTY && !r.json
	done := make(chan struct{})
	defer close(done)
	if f, ok := r.env.Stdin.(*os.File); ok && r.env.StdinIsTTY {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			defer func() { _ = term.Restore(int(f.Fd()), old) }()
			out = crlfWriter{out}
		}
	}
	keys := readKeys(r.env.Stdin, done)
	if tty {
		fmt.Fprint(out, ansiHideCursor)
		defer fmt.Fprint(out, ansiShowCursor)
	}
	var prev *watchFrame
	for first := true; ; first = false {
		timer := r.env.Clock.NewTimer(period)
		frame, err := r.loadFrame(ctx, eng, st, prev)
		if err != nil {
			timer.Stop()
			if ctx.Err() != nil {
				return nil
			}
			if first {
				return err
			}
			frame.Error = r.message(err)
		} else {
			prev = &frame
		}
		var buf bytes.Buffer
		switch {
		case r.json:
			_ = writeNDJSON(&buf, frame)
		case tty:
			buf.WriteString(ansiClearHome)
			r.renderFrame(&buf, frame, period)
		default:
			if !first {
				buf.WriteString("\n")
			}
			r.renderFrame(&buf, frame, period)
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			timer.Stop()
			return fmt.Errorf("watch: write: %w", err)
		}
		if quit := waitTick(ctx, keys, timer); quit {
			return nil
		}
	}
}

// waitTick waits for the timer; it reports true when the user quits (q,
// Ctrl-C) or ctx ends.
func waitTick(ctx context.Context, keys <-chan byte, timer ports.Timer) bool {
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case k, ok := <-keys:
			if !ok {
				keys = nil // stdin ended: only Ctrl-C or the timeout stop us now
				continue
			}
			if k == 'q' || k == 'Q' || k == keyCtrlC {
				return true
			}
		case <-timer.C():
			return false
		}
	}
}

// readKeys delivers stdin bytes until it ends or done is closed. A read
// blocked on a terminal ends with the process.
func readKeys(in io.Reader, done <-chan struct{}) <-chan byte {
	keys := make(chan byte)
	go func() {
		defer close(keys)
		buf := make([]byte, 1)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				select {
				case keys <- buf[0]:
				case <-done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return keys
}

// crlfWriter turns \n into \r\n for a terminal in raw mode.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// loadFrame reads one frame from counts and bounded lists.
func (r *runner) loadFrame(ctx context.Context, eng *app.Engine, st watchStore, prev *watchFrame) (watchFrame, error) {
	f := watchFrame{At: r.now(), Running: []watchRunning{}, RecentFailures: []watchFailure{}, RecentDeadLetters: []watchDeadLetter{}}
	if prev != nil {
		f.Executions, f.Tasks, f.QueueDepth, f.DeadLetters = prev.Executions, prev.Tasks, prev.QueueDepth, prev.DeadLetters
	}
	s, err := eng.Stats(ctx)
	if err != nil {
		return f, fmt.Errorf("watch: counts: %w", err)
	}
	f.Executions, f.Tasks, f.QueueDepth, f.DeadLetters = map[domain.ExecutionState]int64{}, map[domain.TaskState]int64{}, s.QueueDepth, s.DeadLetters
	for _, state := range domain.ExecutionStates {
		f.Executions[state] = s.Executions[state]
		if state.Terminal() {
			f.finished += s.Executions[state]
		}
	}
	for _, state := range domain.TaskStates {
		f.Tasks[state] = s.Tasks[state]
	}
	if f.QueueDepth == nil {
		f.QueueDepth = map[string]int64{}
	}
	if prev != nil {
		if secs := f.At.Sub(prev.At).Seconds(); secs > 0 {
			tp := float64(max(f.finished-prev.finished, 0)) / secs
			f.Throughput = &tp
		}
	}
	running, err := st.ListExecutions(ctx, ports.ExecutionFilter{States: []domain.ExecutionState{domain.ExecutionRunning}, Limit: watchRunningShown})
	if err != nil {
		return f, fmt.Errorf("watch: running executions: %w", err)
	}
	for _, e := range running {
		wr := watchRunning{ID: e.ID, Function: e.RootFunction, Queue: queueName(e.Queue), StartedAt: e.StartedAt}
		steps, err := st.ListTasks(ctx, ports.TaskFilter{ExecutionID: e.ID, Limit: watchStepsScanned})
		if err != nil {
			return f, fmt.Errorf("watch: steps of %s: %w", e.ID, err)
		}
		wr.MoreSteps = len(steps) == watchStepsScanned
		for _, t := range steps {
			if t.ParentTaskID == "" {
				continue
			}
			wr.StepsTotal++
			if t.State.Terminal() {
				wr.StepsDone++
			}
		}
		f.Running = append(f.Running, wr)
	}
	failed, err := st.ListExecutions(ctx, ports.ExecutionFilter{
		States: []domain.ExecutionState{domain.ExecutionFailed, domain.ExecutionTimedOut}, Limit: watchRecentShown,
	})
	if err != nil {
		return f, fmt.Errorf("watch: recent failures: %w", err)
	}
	for _, e := range failed {
		f.RecentFailures = append(f.RecentFailures, watchFailure{ID: e.ID, Function: e.RootFunction, State: e.State, FinishedAt: e.FinishedAt, Error: e.Outcome().Error})
	}
	dls, err := st.ListDeadLetters(ctx, ports.DeadLetterFilter{Limit: watchRecentShown})
	if err != nil {
		return f, fmt.Errorf("watch: recent dead letters: %w", err)
	}
	for _, dl := range dls {
		f.RecentDeadLetters = append(f.RecentDeadLetters, watchDeadLetter{TaskID: dl.TaskID, ExecutionID: dl.ExecutionID, Step: dl.StepName, Code: dl.Code, MovedAt: dl.MovedAt})
	}
	return f, nil
}

// renderFrame prints a frame as text.
func (r *runner) renderFrame(w io.Writer, f watchFrame, period time.Duration) {
	colour := r.colour()
	fmt.Fprintf(w, "stent watch  %s  %s  every %s  (q to quit)\n", storeurl.Mask(r.dsn()), fmtTimeUTC(&f.At), fmtDuration(period))
	if f.Error != "" {
		line := "refresh failed: " + f.Error
		if colour {
			line = "\x1b[" + colRed + "m" + line + colReset
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	var counts fields
	var ex, tk []string
	for _, s := range domain.ExecutionStates {
		ex = append(ex, paintCount(string(s), f.Executions[s], colour))
	}
	for _, s := range domain.TaskStates {
		tk = append(tk, paintCount(string(s), f.Tasks[s], colour))
	}
	counts.addText("Executions", strings.Join(ex, "  "))
	counts.addText("Tasks", strings.Join(tk, "  "))
	tp := "-"
	if f.Throughput != nil {
		tp = fmt.Sprintf("%s executions/s finished", fmtNumber(float64(int64(*f.Throughput*100+0.5))/100))
	}
	counts.addText("Throughput", tp)
	var queues []string
	for _, q := range sortedKeys(f.QueueDepth) {
		queues = append(queues, fmt.Sprintf("%s %d", queueName(q), f.QueueDepth[q]))
	}
	if len(queues) == 0 {
		queues = []string{"(empty)"}
	}
	counts.addText("Queues", strings.Join(queues, "  "))
	counts.addText("Dead letters", fmt.Sprint(f.DeadLetters))
	// Counts carry their own colour codes, so this block is never padded
	// after a coloured value: the key column alone is aligned.
	counts.write(w, "", false)

	section(w, fmt.Sprintf("Running executions (up to %d)", watchRunningShown), colour)
	if len(f.Running) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		t := newTable("ID", "FUNCTION", "QUEUE", "ELAPSED", "PROGRESS")
		for _, e := range f.Running {
			elapsed := "-"
			if e.StartedAt != nil {
				elapsed = fmtDuration(f.At.Sub(*e.StartedAt))
			}
			t.add(plain(e.ID), plain(e.Function), plain(e.Queue), plain(elapsed), plain(progressBar(e)))
		}
		t.write(w, "  ", colour)
	}

	section(w, "Recent failures", colour)
	if len(f.RecentFailures) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		t := newTable("ID", "FUNCTION", "STATE", "FINISHED (UTC)", "ERROR")
		for _, e := range f.RecentFailures {
			t.add(plain(e.ID), plain(e.Function), stateCell(string(e.State)), plain(fmtTime(e.FinishedAt)), plain(truncate(errorLine(e.Error), 50)))
		}
		t.write(w, "  ", colour)
	}

	section(w, "Recent dead letters", colour)
	if len(f.RecentDeadLetters) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		t := newTable("TASK", "EXECUTION", "STEP", "CODE", "MOVED (UTC)")
		for _, dl := range f.RecentDeadLetters {
			t.add(plain(dl.TaskID), plain(dl.ExecutionID), plain(dl.Step), cell{dl.Code, colRed}, plain(fmtTime(&dl.MovedAt)))
		}
		t.write(w, "  ", colour)
	}
}

func paintCount(state string, n int64, colour bool) string {
	s := fmt.Sprintf("%s %d", state, n)
	if c := countCell(n, state); colour && c.color != "" {
		return "\x1b[" + c.color + "m" + s + colReset
	}
	return s
}

// progressBar draws finished steps over recorded steps.
func progressBar(e watchRunning) string {
	if e.StepsTotal == 0 {
		return "[" + strings.Repeat("-", progressBarWidth) + "] no steps yet"
	}
	filled := e.StepsDone * progressBarWidth / e.StepsTotal
	more := ""
	if e.MoreSteps {
		more = "+"
	}
	return fmt.Sprintf("[%s%s] %d/%d%s steps", strings.Repeat("#", filled), strings.Repeat("-", progressBarWidth-filled),
		e.StepsDone, e.StepsTotal, more)
}
