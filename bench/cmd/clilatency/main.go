// Command clilatency measures what a user of the SQLite default waits for
// `stent dispatch --wait` against a running stentd (`make run`), the CLI
// item of issue 11: it builds stent and stentd, starts stentd on a fresh
// SQLite file, runs `stent dispatch batch.process_item ... --wait` again
// and again as separate processes, and prints the p50/p95 wall time of
// each whole command (process start, open, dispatch, wait, exit). With
// -compare it also runs a few without the loopback wake-up (its file
// hidden), as before. `make bench-latency` runs it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	root := flag.String("root", "..", "the stent module's root (holds cmd/stent and cmd/stentd)")
	runs := flag.Int("n", 40, "runs of dispatch --wait")
	compare := flag.Int("compare", 3, "runs without the wake-up, as before (0 skips)")
	flag.Parse()
	if err := run(*root, *runs, *compare); err != nil {
		fmt.Fprintln(os.Stderr, "clilatency:", err)
		os.Exit(1)
	}
}

// idleGap is how long stentd sits idle before a -compare run.
const idleGap = 8 * time.Second

const input = `{"batch":"bench","index":1,"value":"x"}`

func run(root string, runs, compare int) error {
	dir, err := os.MkdirTemp("", "stent-clilatency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stent, stentd := filepath.Join(dir, "stent"), filepath.Join(dir, "stentd")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/stent", "./cmd/stentd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "stent.sqlite")
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, stentd)
	srv.Env = append(os.Environ(), "STENT_DB="+db, "STENT_HTTP_ADDR=127.0.0.1:0", "STENT_NOTIFIER=auto", "STENT_REDIS_URL=")
	srv.Stdout, srv.Stderr = &logs, &logs
	srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
	srv.WaitDelay = 30 * time.Second
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { cancel(); _ = srv.Wait() }()
	wake, err := waitForWakeFile(db, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%w\nstentd log:\n%s", err, logs.String())
	}
	cli := func() (time.Duration, error) {
		started := time.Now()
		out, err := exec.Command(stent, "--db", db, "dispatch", "batch.process_item", input, "--wait", "--wait-timeout", "30s").CombinedOutput()
		took := time.Since(started)
		if err != nil || !strings.Contains(string(out), `OK "X"`) {
			return took, fmt.Errorf("stent dispatch --wait: %v\n%s", err, out)
		}
		return took, nil
	}
	for range 3 { // warm the page cache and stentd's catalogue
		if _, err := cli(); err != nil {
			return err
		}
	}
	startup, err := measure(10, func() (time.Duration, error) {
		started := time.Now()
		err := exec.Command(stent, "version").Run()
		return time.Since(started), err
	})
	if err != nil {
		return err
	}
	with, err := measure(runs, cli)
	if err != nil {
		return err
	}
	fmt.Printf("stent dispatch --wait against a running stentd on SQLite (whole process: start, open, dispatch, wait, exit):\n")
	line := func(label string, d []time.Duration, note string) {
		fmt.Printf("  %-40s p50 %7s  p95 %7s  %s\n", label, ms(d, 50), ms(d, 95), note)
	}
	line("with the loopback wake-up", with, fmt.Sprintf("(%d runs back to back)", runs))
	if compare > 0 {
		// After stentd has been idle long enough for its poll to back off
		// (to 5s), as when a user types a command.
		idle := func() (time.Duration, error) { time.Sleep(idleGap); return cli() }
		withIdle, err := measure(compare, idle)
		if err != nil {
			return err
		}
		line(fmt.Sprintf("with it, stentd idle for %s", idleGap), withIdle, fmt.Sprintf("(%d runs)", compare))
		hidden := wake + ".hidden"
		if err := os.Rename(wake, hidden); err != nil {
			return err
		}
		without, err := measure(compare, idle)
		_ = os.Rename(hidden, wake)
		if err != nil {
			return err
		}
		line(fmt.Sprintf("without it (stentd's poll), idle %s", idleGap), without, fmt.Sprintf("(%d runs)", compare))
	}
	line("`stent version` alone", startup, "(process start and exit, for reference)")
	fmt.Printf("  %-40s p50 %7s  (p50 with the wake-up minus p50 of `stent version`)\n", "the command's own work, about",
		fmt.Sprintf("%.0f ms", float64((with[len(with)/2]-startup[len(startup)/2]).Microseconds())/1000))
	return nil
}

func waitForWakeFile(db string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(db + "-wake-*"); len(m) > 0 {
			return m[0], nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", errors.New("stentd wrote no wake file beside the database within " + limit.String())
}

func measure(n int, f func() (time.Duration, error)) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		d, err := f()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// ms is the p-th percentile (nearest rank) in milliseconds.
func ms(sorted []time.Duration, p int) string {
	i := (p*len(sorted)+99)/100 - 1
	i = min(max(i, 0), len(sorted)-1)
	return fmt.Sprintf("%.0f ms", float64(sorted[i].Microseconds())/1000)
}
