package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/internal/testenv"
)

// TestOutagesCostNothing adds the faults a deployment meets besides a
// crashed worker: PostgreSQL goes away (every connection of the workers and
// the client is cut, and new ones are refused, for 1-3 s: a database
// restart as its clients see it) and the Redis server the notifications go
// through is SIGKILLed and restarted 1-4 s later. Worker kills stay in the
// mix. The invariants are TestKillsCostNothing's: every workflow completes
// with the right result, no dead letter, no attempt spent on a fault, no
// step body run after its checkpoint, no completion recorded twice.
//
// The outage is made by a TCP proxy in front of the shared server, so the
// soak cuts only its own connections and can run beside other tests. Redis
// is a private redis-server on a free port (the binary must be on PATH).
func TestOutagesCostNothing(t *testing.T) {
	s := soak{workflows: 150, rate: 8, killEvery: [2]int{3, 6}, restart: true, slow: "20ms-150ms",
		limit: 90 * time.Second, pgOutages: true, redisLoss: true}
	if long() {
		s.workflows, s.rate, s.limit = 500, 4, 3*time.Minute
	}
	forEachStore(t, func(t *testing.T, target string) { run(t, target, s) })
}

// faults is what a soak can break besides worker processes.
type faults struct {
	proxy *outageProxy // PostgreSQL through a proxy that can cut it, or nil
	redis *redisServer // a private Redis, or nil
}

// env returns the worker processes' settings that route them through the
// proxy and the private Redis.
func (f faults) env() []string {
	var out []string
	if f.proxy != nil {
		out = append(out, envPGDSN+"="+f.proxy.dsn)
	}
	if f.redis != nil {
		out = append(out, envRedis+"="+f.redis.url())
	}
	return out
}

// conns returns the client's settings (the same as the workers').
func (f faults) conns() conns {
	var c conns
	if f.proxy != nil {
		c.pgDSN = f.proxy.dsn
	}
	if f.redis != nil {
		c.redisURL = f.redis.url()
	}
	return c
}

// setUpFaults starts what soak s breaks: a proxy for PostgreSQL targets
// when s.pgOutages, a private Redis when s.redisLoss.
func setUpFaults(t *testing.T, target string, s soak) faults {
	var f faults
	if s.pgOutages && storeName(target) == "postgres" {
		f.proxy = startProxy(t, testenv.PostgresDSN(t))
	}
	if s.redisLoss {
		f.redis = startRedis(t)
	}
	return f
}

// outageProxy forwards TCP connections to a PostgreSQL server. down cuts
// every connection through it and refuses new ones (accepted and closed at
// once) until up: what clients see while their database restarts.
type outageProxy struct {
	upstream string
	dsn      string // the DSN that goes through the proxy
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	isDown   bool
}

func startProxy(t *testing.T, dsn string) *outageProxy {
	t.Helper()
	host, port, err := upstreamOf(dsn)
	if err != nil {
		t.Fatalf("the chaos proxy needs a URL-form PostgreSQL DSN: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{upstream: net.JoinHostPort(host, port), ln: ln, conns: map[net.Conn]struct{}{}}
	_, pport, _ := net.SplitHostPort(ln.Addr().String())
	p.dsn = testenv.WithParams(t, dsn, "host", "127.0.0.1", "port", pport)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// upstreamOf returns the host and port of a URL-form DSN (5432 when the
// URL names none).
func upstreamOf(dsn string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", err
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", "", errors.New("the DSN names no host")
	}
	if port == "" {
		port = "5432"
	}
	return host, port, nil
}

func (p *outageProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.isDown {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

// pipe joins c to a new upstream connection until either side ends or down
// cuts c.
func (p *outageProxy) pipe(c net.Conn) {
	defer p.forget(c)
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}

func (p *outageProxy) forget(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// down cuts every connection and refuses new ones until up.
func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown = true
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *outageProxy) up() {
	p.mu.Lock()
	p.isDown = false
	p.mu.Unlock()
}

func (p *outageProxy) close() {
	_ = p.ln.Close()
	p.down()
}

// redisServer is a private redis-server the soak kills and restarts on the
// same port.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Unavailable(t, "redis-server is not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	r := &redisServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs the server and waits until it answers PING.
func (r *redisServer) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(done) }()
	r.cmd, r.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		} else if ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d did not answer: %v\n%s", r.port, err, b)
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited:\n%s", r.port, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill SIGKILLs the server and waits for it to exit.
func (r *redisServer) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// outage runs one fault other than a worker kill: which is "pg" or
// "redis"; it lasts d unless stop closes first.
func (f faults) outage(t *testing.T, which string, d time.Duration, stop <-chan struct{}) {
	switch which {
	case "pg":
		f.proxy.down()
		defer f.proxy.up()
	case "redis":
		f.redis.kill()
		defer func() {
			if err := f.redis.start(); err != nil {
				t.Errorf("restart Redis: %v", err)
			}
		}()
	}
	select {
	case <-time.After(d):
	case <-stop:
	}
}

// kinds lists the faults of this soak on this target: "kill" always,
// "pg" and "redis" when set up.
func (f faults) kinds() []string {
	out := []string{"kill"}
	if f.proxy != nil {
		out = append(out, "pg")
	}
	if f.redis != nil {
		out = append(out, "redis")
	}
	return out
}
