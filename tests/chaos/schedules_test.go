package chaos

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// tickSchedule is the 1-second cron the schedule soak's workers declare.
const tickSchedule = "chaos.tick"

// registerTicks declares chaos.tick, a function that appends "tick <id>"
// to the ledger, and the schedule that runs it every second (catching up
// every missed tick, so a gap is a lost tick, never a policy).
func registerTicks(reg *app.Registry, l *ledger) {
	tick := app.Register(reg, "chaos.tick", func(ctx context.Context, _ int) (string, error) {
		tc, _ := app.CurrentTask(ctx)
		l.append("tick", tc.ExecutionID, 0)
		return "ok", nil
	})
	app.Schedule(reg, tickSchedule, "* * * * * *", tick, 0, app.WithCatchUp(app.CatchUpAll(60)))
}

// TestScheduleTicksOnceAcrossAKill runs three worker processes that all
// declare a 1-second cron for 20 s; one of them is SIGKILLed in the middle
// and restarted under its name. The database must then hold exactly one
// execution per second, with no gap, from the first tick to the end, each
// completed, and the ledger at least one run of each (at most one body
// rerun: the killed process may have run a tick's body without recording
// it). About 25 s per store, SQLite and PostgreSQL in parallel.
func TestScheduleTicksOnceAcrossAKill(t *testing.T) {
	forEachStore(t, func(t *testing.T, target string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		st, n := openTestStore(ctx, t, target, conns{})
		ledgerPath := filepath.Join(t.TempDir(), "ledger")
		pool := newPool(t, target, ledgerPath, "1ms-2ms", 3, envCron+"=1")

		ticks := func() map[time.Time]domain.Execution {
			t.Helper()
			list, err := st.ListExecutions(ctx, ports.ExecutionFilter{Function: "chaos.tick", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			out := map[time.Time]domain.Execution{}
			for _, e := range list {
				at, ok := tickOf(e.ID)
				if !ok {
					t.Fatalf("execution %s of chaos.tick is not a schedule tick", e.ID)
				}
				if prev, dup := out[at]; dup {
					t.Errorf("two executions for tick %s: %s and %s", at.Format(time.RFC3339), prev.ID, e.ID)
				}
				out[at] = e
			}
			return out
		}
		poll := func(what string, cond func() bool) {
			t.Helper()
			for !cond() {
				if ctx.Err() != nil {
					t.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		poll("the first tick", func() bool { return len(ticks()) > 0 })
		start := time.Now()
		time.Sleep(10 * time.Second) // the soak's own pace: ticks fire meanwhile
		pool.kill(1, true)
		t.Logf("worker 1 killed and restarted after %s", time.Since(start).Round(time.Millisecond))
		time.Sleep(10 * time.Second)

		client, err := app.New(app.Deps{Store: st, Notifier: n, Registry: app.NewRegistry()}, app.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if _, err := client.PauseSchedule(ctx, tickSchedule); err != nil {
			t.Fatal(err)
		}
		// A pass already under way may still fire the tick of the pause's
		// second: the check stops a second before it.
		cutoff := time.Now().Add(-time.Second).Truncate(time.Second)
		poll("every tick up to the pause to complete", func() bool {
			for at, e := range ticks() {
				if !at.After(cutoff) && e.State != domain.ExecutionCompleted {
					return false
				}
			}
			return true
		})
		pool.stop()

		got := ticks()
		var times []time.Time
		for at := range got {
			if !at.After(cutoff) {
				times = append(times, at)
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		if len(times) < 18 {
			t.Fatalf("%d ticks up to %s; want about 20", len(times), cutoff.Format(time.RFC3339))
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap != time.Second {
				t.Errorf("ticks %s and %s are %s apart: a tick was lost", times[i-1].Format(time.RFC3339), times[i].Format(time.RFC3339), gap)
			}
		}
		if want := int(cutoff.Sub(times[0])/time.Second) + 1; len(times) != want {
			t.Errorf("%d executions from %s to %s; want exactly one per second, %d", len(times), times[0].Format(time.RFC3339), cutoff.Format(time.RFC3339), want)
		}
		runs := ledgerTicks(t, ledgerPath)
		reruns := 0
		for _, at := range times {
			id := got[at].ID
			switch c := runs[id]; {
			case c == 0:
				t.Errorf("tick %s completed but its body never ran (ledger)", id)
			case c > 1:
				reruns += c - 1
			}
		}
		if reruns > 1 {
			t.Errorf("%d tick bodies ran again; want at most 1 (the killed worker's)", reruns)
		}
		t.Logf("%s: %d ticks from %s to %s, one execution each; %d body reruns", storeName(target), len(times),
			times[0].Format(time.RFC3339), cutoff.Format(time.RFC3339), reruns)
	})
}

// tickOf returns the tick time of a schedule execution id.
func tickOf(id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, "schedule:"+tickSchedule+"@")
	if !ok {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, rest)
	return at, err == nil
}

// ledgerTicks counts the tick lines of the ledger by execution id.
func ledgerTicks(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "tick" {
			out[fields[1]]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
