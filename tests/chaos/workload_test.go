package chaos

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
)

// steps is the number of step bodies of one workflow.
const steps = 5

// stepIn is the input of a step body.
type stepIn struct {
	Step int `json:"step"`
	N    int `json:"n"`
}

func (s stepIn) value() int { return s.N*10 + s.Step }

// expected is the result of workflow n: the sum of its step values.
func expected(n int) int {
	sum := 0
	for s := 1; s <= steps; s++ {
		sum += stepIn{Step: s, N: n}.value()
	}
	return sum
}

// register installs the soak's workflow: two sequential calls (run inline
// in the workflow's goroutine), a sleep longer than the park threshold (the
// workflow parks and any worker resumes it), a fan-out of two calls (child
// tasks any worker claims) and a call to a function with a concurrency
// limit (a child task the workflow waits for). Every step body appends
// "start" and "done" entries to the ledger around a random pause.
func register(reg *app.Registry, l *ledger, lo, hi time.Duration) *app.Function[int, int] {
	body := func(ctx context.Context, in stepIn) (int, error) {
		tc, _ := app.CurrentTask(ctx)
		l.append("start", tc.ExecutionID, in.Step)
		d := lo
		if hi > lo {
			d += time.Duration(rand.Int64N(int64(hi - lo)))
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		l.append("done", tc.ExecutionID, in.Step)
		return in.value(), nil
	}
	step := app.Register(reg, "chaos.step", body)
	item := app.Register(reg, "chaos.item", body)
	limited := app.Register(reg, "chaos.limited", body, app.WithMaxConcurrent(100000))
	return app.Register(reg, "chaos.flow", func(ctx context.Context, n int) (int, error) {
		sum := 0
		for s := 1; s <= 2; s++ {
			v, err := step.Call(ctx, stepIn{Step: s, N: n})
			if err != nil {
				return 0, err
			}
			sum += v
		}
		if err := app.Sleep(ctx, 300*time.Millisecond); err != nil {
			return 0, err
		}
		vs, err := item.Map(ctx, []stepIn{{Step: 3, N: n}, {Step: 4, N: n}})
		if err != nil {
			return 0, err
		}
		sum += vs[0] + vs[1]
		v, err := limited.Call(ctx, stepIn{Step: 5, N: n})
		if err != nil {
			return 0, err
		}
		return sum + v, nil
	})
}

func parseSlow(s string) (time.Duration, time.Duration) {
	a, b, _ := strings.Cut(s, "-")
	lo, _ := time.ParseDuration(a)
	hi, err := time.ParseDuration(b)
	if err != nil {
		hi = lo
	}
	return lo, hi
}

// ledger is the external record of step bodies: an append-only file
// every process writes one line per event to (O_APPEND writes of one
// line are atomic).
type ledger struct {
	mu sync.Mutex
	f  *os.File
}

func newLedger(path string) *ledger {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	return &ledger{f: f}
}

func (l *ledger) append(kind, execID string, key any) {
	line := fmt.Sprintf("%s %s %v %d %d\n", kind, execID, key, time.Now().UnixNano(), os.Getpid())
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.WriteString(line); err != nil {
		panic(err)
	}
}

// entry is one ledger line: "start" and "done" of a step body (Key is the
// step number), or "checkpoint" (Key is the task id) when a worker has
// recorded a task's completion.
type entry struct {
	Kind   string
	ExecID string
	Key    string
	At     time.Time
	PID    int
}

func (e entry) key() string { return e.ExecID + "/" + e.Key }

// checkpoints appends a "checkpoint" line for every task completion a
// worker records (the engine calls TaskCompleted after the completion's
// write committed): the same task recorded twice would be a duplicate
// step completion.
type checkpoints struct {
	app.NopMetrics
	l *ledger
}

func (c checkpoints) TaskCompleted(t app.TaskInfo, _ time.Duration) {
	c.l.append("checkpoint", t.ExecutionID, t.TaskID)
}

func readLedger(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 5 {
			continue // a line cut by a kill mid-write
		}
		ns, _ := strconv.ParseInt(fs[3], 10, 64)
		pid, _ := strconv.Atoi(fs[4])
		out = append(out, entry{Kind: fs[0], ExecID: fs[1], Key: fs[2], At: time.Unix(0, ns), PID: pid})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
