package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goTool finds the go command to build the binaries with.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		p, err = exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go"))
	}
	if err != nil {
		t.Skipf("smoke test: no go command on PATH to build the binaries with (%v)", err)
	}
	return p
}

// build compiles the package into dir and returns the binary, or the
// build output when it does not compile.
func build(t *testing.T, goCmd, dir, pkg, name string) (string, error) {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command(goCmd, "build", "-o", out, pkg)
	cmd.Dir = filepath.Join("..", "..") // the module root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(strings.TrimSpace(string(b)))
	}
	return out, nil
}

// processEnv is the test's environment without STENT_* settings, plus kv.
func processEnv(kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "STENT_") {
			env = append(env, e)
		}
	}
	return append(env, kv...)
}

// TestSmoke builds stentd and the stent CLI, starts stentd on a fresh
// SQLite file, dispatches an example with `stent dispatch --wait`, checks
// /metrics counted it, and stops stentd with SIGTERM.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test: builds two binaries (skipped with -short)")
	}
	t.Parallel()
	goCmd := goTool(t)
	dir := t.TempDir()
	stentd, err := build(t, goCmd, dir, "./cmd/stentd", "stentd")
	if err != nil {
		t.Fatalf("building cmd/stentd: %v", err)
	}
	stent, err := build(t, goCmd, dir, "./cmd/stent", "stent")
	if err != nil {
		t.Skipf("smoke test skipped: the stent CLI (cmd/stent) does not build yet:\n%v", err)
	}
	db := filepath.Join(dir, "smoke.sqlite")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	daemon := exec.CommandContext(ctx, stentd)
	daemon.Env = processEnv("STENT_DB="+db, "STENT_HTTP_ADDR=127.0.0.1:0", "STENT_LOG_FORMAT=json", "STENT_SHUTDOWN_TIMEOUT=10s")
	stderr, err := daemon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if daemon.ProcessState == nil {
			_ = daemon.Process.Kill()
			_ = daemon.Wait()
		}
	})

	// Follow the log: the listening address, readiness, and the end.
	type logLine struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	addrCh, readyCh, logDone := make(chan string, 1), make(chan struct{}), make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stderr)
		readySent := false
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch {
			case l.Msg == "http server listening":
				addrCh <- l.Addr
			case l.Msg == "worker ready" && !readySent:
				readySent = true
				close(readyCh)
			}
		}
		logDone <- all.String()
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case log := <-logDone:
		t.Fatalf("stentd ended before listening:\n%s", log)
	}
	select {
	case <-readyCh:
	case log := <-logDone:
		t.Fatalf("stentd ended before its worker was ready:\n%s", log)
	}

	order := `{"id":"smoke-1","item":"lamp","quantity":1,"amount":30,"address":"home"}`
	cli := exec.CommandContext(ctx, stent, "--db", db, "--no-color", "dispatch", "orders.place_order", order, "--wait")
	cli.Env = processEnv()
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("stent dispatch --wait: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "shipped") {
		t.Fatalf("stent dispatch --wait printed no shipped receipt:\n%s", out)
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `stent_tasks_completed_total{function="orders.place_order",queue="default"} 1`
	if !strings.Contains(string(metrics), want) {
		t.Fatalf("/metrics lacks %q:\n%s", want, metrics)
	}

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log := <-logDone
	if err := daemon.Wait(); err != nil {
		t.Fatalf("stentd after SIGTERM: %v (want exit 0); log:\n%s", err, log)
	}
	if code := daemon.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("stentd exited %d after SIGTERM; want 0", code)
	}
	for _, want := range []string{"signal received; shutting down", "store closed"} {
		if !strings.Contains(log, want) {
			t.Errorf("the stentd log lacks %q:\n%s", want, log)
		}
	}
}
