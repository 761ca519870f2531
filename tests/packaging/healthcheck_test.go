package packaging

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestHealthcheckAgainstStentd runs the image's HEALTHCHECK program
// against the stentd that build-bin made, as the container does: both read
// STENT_HTTP_ADDR.
func TestHealthcheckAgainstStentd(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	env := []string{
		"STENT_DB=" + filepath.Join(t.TempDir(), "stent.sqlite"),
		"STENT_HTTP_ADDR=" + freeAddr(t),
		"STENT_EXAMPLES=false",
		"STENT_LOG_LEVEL=warn",
	}

	if code, _, _ := runBin(t, "stent-healthcheck", env); code != 1 {
		t.Fatalf("with no stentd running the healthcheck exits %d; want 1", code)
	}

	stentd := exec.Command(filepath.Join(bin, "stentd"))
	stentd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	stentd.Stderr = &logs
	if err := stentd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- stentd.Wait() }()
	t.Cleanup(func() {
		if stentd.ProcessState == nil {
			_ = stentd.Process.Kill()
			<-exited
		}
	})

	// Docker polls the same way; the start period covers the wait.
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, stdout, stderr := runBin(t, "stent-healthcheck", env)
		if code == 0 {
			t.Logf("healthcheck: %s", stdout)
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("stentd exited before it was healthy: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stentd not healthy after 90 s; last answer: %s\nstentd logs:\n%s", stderr, logs.String())
		}
		time.Sleep(200 * time.Millisecond) // polling an external process
	}
	if code, _, stderr := runBin(t, "stent-healthcheck", env, "--path=/healthz"); code != 0 {
		t.Errorf("--path=/healthz exits %d: %s", code, stderr)
	}

	if err := stentd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("stentd after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("stentd did not stop within a minute of SIGTERM\n%s", logs.String())
	}
	if code, _, _ := runBin(t, "stent-healthcheck", env); code != 1 {
		t.Errorf("after stentd stopped the healthcheck exits %d; want 1", code)
	}
}
