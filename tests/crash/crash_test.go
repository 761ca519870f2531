// Package crash kills a worker process with SIGKILL in the middle of a
// workflow and checks that a new worker finishes it from its checkpoints:
// every step body that completed before the kill ran exactly once, and a
// durable sleep waits only for its remainder. It runs on SQLite and on
// PostgreSQL (STENT_TEST_POSTGRES_DSN).
package crash

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

const (
	envRole  = "STENT_CRASH_ROLE"  // "worker" in the child process
	envDSN   = "STENT_CRASH_DSN"   // store the child opens
	envLog   = "STENT_CRASH_LOG"   // side-effect log the step bodies append to
	envBlock = "STENT_CRASH_BLOCK" // step number whose body hangs (first worker only)
	envLease = "STENT_CRASH_LEASE" // worker lease
)

// TestCrashHelperProcess is the worker process: it is only run by the
// tests below, re-executing the test binary.
func TestCrashHelperProcess(t *testing.T) {
	if os.Getenv(envRole) != "worker" {
		t.Skip("helper process for the crash tests")
	}
	ctx := context.Background()
	st, err := openStore(ctx, t, os.Getenv(envDSN), false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open store:", err)
		os.Exit(3)
	}
	reg := app.NewRegistry()
	register(reg, os.Getenv(envLog), os.Getenv(envBlock))
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(3)
	}
	lease, _ := time.ParseDuration(os.Getenv(envLease))
	_ = eng.Serve(ctx, app.WorkerOptions{LeaseDuration: lease, PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond})
	os.Exit(0)
}

// register installs the workflows of the crash tests. Each step body
// appends "start N" and "done N" to the side-effect log; the body of step
// block hangs (in the first worker, which is then killed).
func register(reg *app.Registry, logPath, block string) {
	record := func(line string) {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			panic(err)
		}
		_ = f.Sync()
	}
	step := app.Register(reg, "crash.step", func(ctx context.Context, n int) (int, error) {
		record(fmt.Sprintf("start %d", n))
		if fmt.Sprint(n) == block {
			<-ctx.Done() // hang until the process is killed
			return 0, ctx.Err()
		}
		record(fmt.Sprintf("done %d", n))
		return n, nil
	})
	app.Register(reg, "crash.ten-steps", func(ctx context.Context, _ int) (int, error) {
		sum := 0
		for i := 1; i <= 10; i++ {
			v, err := step.Call(ctx, i)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
	app.Register(reg, "crash.sleepy", func(ctx context.Context, d time.Duration) (int, error) {
		if _, err := step.Call(ctx, 1); err != nil {
			return 0, err
		}
		if err := app.Sleep(ctx, d); err != nil {
			return 0, err
		}
		return step.Call(ctx, 2)
	})
}

type worker struct {
	cmd *exec.Cmd
}

func startWorker(t *testing.T, dsn, logPath, block string, lease time.Duration) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRole+"=worker", envDSN+"="+dsn, envLog+"="+logPath,
		envBlock+"="+block, envLease+"="+lease.String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd}
	t.Cleanup(func() { w.kill() })
	return w
}

func (w *worker) kill() {
	if w.cmd.ProcessState == nil {
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = w.cmd.Process.Wait()
	}
}

func readLog(t *testing.T, path string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return counts
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[strings.TrimSpace(sc.Text())]++
	}
	return counts
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func forEachStore(t *testing.T, run func(t *testing.T, dsn string)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		run(t, filepath.Join(t.TempDir(), "crash.sqlite"))
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		run(t, postgresDSN(t))
	})
}

func TestSIGKILLMidWorkflowResumesFromCheckpoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := openStore(ctx, t, dsn, true)
		if err != nil {
			t.Fatal(err)
		}
		reg := app.NewRegistry()
		logPath := filepath.Join(t.TempDir(), "effects.log")
		register(reg, logPath, "")
		client, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		id, err := client.DispatchByName(ctx, "crash.ten-steps", []byte(`0`))
		if err != nil {
			t.Fatal(err)
		}
		first := startWorker(t, dsn, logPath, "6", 2*time.Second)
		waitFor(t, "step 6 to start in the first worker", 60*time.Second, func() bool { return readLog(t, logPath)["start 6"] == 1 })
		first.kill()
		before := readLog(t, logPath)
		startWorker(t, dsn, logPath, "", 2*time.Second)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		res, err := client.WaitFor(wctx, id)
		if err != nil || res.State != domain.ExecutionCompleted || string(res.Value) != "55" {
			t.Fatalf("result %+v, %v", res, err)
		}
		after := readLog(t, logPath)
		for i := 1; i <= 10; i++ {
			done := after[fmt.Sprintf("done %d", i)]
			if done != 1 {
				t.Errorf("step %d completed %d times, want exactly 1", i, done)
			}
			if i <= 5 && after[fmt.Sprintf("start %d", i)] != 1 {
				t.Errorf("step %d (completed before the kill) ran %d times", i, after[fmt.Sprintf("start %d", i)])
			}
		}
		if after["start 6"] != 2 || before["done 6"] != 0 {
			t.Errorf("step 6 (in flight at the kill) should have started twice, got %d", after["start 6"])
		}
		t.Logf("side effects before the kill: %v; after the new worker: %v", before, after)
		v, err := client.StateOf(ctx, id)
		if err == nil {
			t.Logf("root attempts: %d", v.RootAttempts)
		}
	})
}

func TestSIGKILLMidSleepWaitsOnlyTheRemainder(t *testing.T) {
	forEachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := openStore(ctx, t, dsn, true)
		if err != nil {
			t.Fatal(err)
		}
		reg := app.NewRegistry()
		logPath := filepath.Join(t.TempDir(), "effects.log")
		register(reg, logPath, "")
		client, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		const nap = 6 * time.Second
		id, err := client.DispatchByName(ctx, "crash.sleepy", []byte(fmt.Sprint(int64(nap))))
		if err != nil {
			t.Fatal(err)
		}
		first := startWorker(t, dsn, logPath, "", time.Second)
		var sleep domain.Task
		waitFor(t, "the sleep step", 60*time.Second, func() bool {
			ts, err := st.ListTasks(ctx, ports.TaskFilter{ExecutionID: id, Kinds: []domain.TaskKind{domain.KindSleep}})
			if err != nil || len(ts) == 0 {
				return false
			}
			sleep = ts[0]
			return true
		})
		time.Sleep(2 * time.Second) // let the sleep run partly, then crash
		first.kill()
		startWorker(t, dsn, logPath, "", time.Second)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		res, err := client.WaitFor(wctx, id)
		if err != nil || res.State != domain.ExecutionCompleted {
			t.Fatalf("result %+v, %v", res, err)
		}
		done, err := st.GetTask(ctx, sleep.ID)
		if err != nil || done.FinishedAt == nil || sleep.ScheduledFor == nil {
			t.Fatalf("sleep record %+v %v", done, err)
		}
		late := done.FinishedAt.Sub(*sleep.ScheduledFor)
		t.Logf("sleep of %s: created %s, wake %s, completed %s (%s after the wake time)",
			nap, sleep.CreatedAt.Format(time.StampMilli), sleep.ScheduledFor.Format(time.StampMilli),
			done.FinishedAt.Format(time.StampMilli), late)
		if late < 0 || late > 2*time.Second {
			t.Fatalf("the sleep completed %s after its wake time; a restart would be about %s late", late, 2*time.Second+nap)
		}
		if log := readLog(t, logPath); log["done 1"] != 1 || log["done 2"] != 1 {
			t.Fatalf("side effects %v", log)
		}
	})
}
