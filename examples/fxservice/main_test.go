package main

import (
	"bufio"
	"context"
	"encoding/json"
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

// TestTheServiceBuildsStartsWithItsOwnFlagsAndStopsCleanly builds the
// example, starts it with its own flags (which stentfx must leave alone),
// calls its durable function through the injected handle and over the
// HTTP API, and stops it with SIGTERM: exit 0 after a full shutdown.
func TestTheServiceBuildsStartsWithItsOwnFlagsAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary (skipped with -short)")
	}
	t.Parallel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fxservice")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "fx.sqlite"), "--name", "tester")
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "STENT_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "STENT_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	type line struct {
		Msg      string `json:"msg"`
		Addr     string `json:"addr"`
		Greeting string `json:"greeting"`
	}
	addrCh, greeted, logDone := make(chan string, 1), make(chan string, 1), make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			var l line
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch l.Msg {
			case "http server listening":
				addrCh <- l.Addr
			case "greeted":
				greeted <- l.Greeting
			}
		}
		logDone <- all.String()
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case log := <-logDone:
		t.Fatalf("fxservice ended before listening:\n%s", log)
	}
	select {
	case g := <-greeted:
		if g != "Hello, tester!" {
			t.Fatalf("greeting %q", g)
		}
	case log := <-logDone:
		t.Fatalf("fxservice ended before greeting:\n%s", log)
	}

	resp, err := http.Post("http://"+addr+"/v1/executions", "application/json", strings.NewReader(`{"function":"greetings.greet","input":"api"}`))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		ExecutionID string `json:"execution_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/v1/executions/" + d.ExecutionID + "/result?wait=30s")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"Hello, api!"`) {
		t.Fatalf("result over HTTP: %d %s", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log := <-logDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fxservice after SIGTERM: %v; log:\n%s", err, log)
	}
	for _, want := range []string{"draining workers", "store closed"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
