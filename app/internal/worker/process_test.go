//go:build unix

package worker

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	if processAlive(0) || processAlive(-1) {
		t.Fatal("pids <= 0 are alive")
	}
	// A child that exited and is not reaped yet is a zombie: gone.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start a child process:", err)
	}
	pid := cmd.Process.Pid
	// It exits at once but is not reaped: poll its state (no channel
	// tells a parent that a child became a zombie without reaping it).
	for deadline := time.Now().Add(10 * time.Second); processAlive(pid) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if processAlive(pid) {
		t.Errorf("exited child %d still counts as alive", pid)
	}
	_ = cmd.Wait()
	if processAlive(pid) {
		t.Errorf("reaped child %d still counts as alive", pid)
	}
}
