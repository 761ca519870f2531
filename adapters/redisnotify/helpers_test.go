package redisnotify_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/internal/testenv"
)

// redisOptions returns the options of the shared test server (the service
// gate of testenv).
func redisOptions(t *testing.T) *redis.Options {
	t.Helper()
	url := testenv.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisEnv, err)
	}
	return opts
}

// newClient returns a client for opts named name (visible in CLIENT LIST),
// closed at cleanup.
func newClient(t *testing.T, opts *redis.Options, name string) *redis.Client {
	t.Helper()
	o := *opts
	o.ClientName = name
	c := redis.NewClient(&o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newNotifier builds a notifier on client, closed at cleanup.
func newNotifier(t *testing.T, client redis.UniversalClient, cfg redisnotify.Config) *redisnotify.Notifier {
	t.Helper()
	return notifycoretest.Closed[*redisnotify.Notifier](t)(redisnotify.New(client, cfg))
}

// listeningConns counts the connections named name that are subscribed to
// at least one channel.
func listeningConns(t *testing.T, admin *redis.Client, name string) int {
	t.Helper()
	list, err := admin.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] == name && fields["sub"] != "" && fields["sub"] != "0" {
			n++
		}
	}
	return n
}

// redisServer is a private redis-server the test may stop and restart;
// the shared server is never touched.
type redisServer struct {
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// startRedisServer starts a private redis-server on a free port, stopped
// at cleanup. It skips (or fails, with STENT_REQUIRE_SERVICES=1) when the
// binary is missing.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Unavailable(t, "redis-server is not on PATH")
	}
	s := &redisServer{}
	var err error
	for range 5 { // a free port may be taken between the probe and the bind
		s.port = freePort(t)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs redis-server and returns once it accepts connections.
func (s *redisServer) start() error {
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
		s.cmd, s.exited = cmd, exited
		return nil
	case <-exited:
		return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, log.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server on port %d not ready within 30s", s.port)
	}
}

// stop kills the server and waits for it to exit. Idempotent.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// restart starts the server again on the same port.
func (s *redisServer) restart(t *testing.T) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
}
