package redisnotify_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy forwards TCP connections to a Redis server and injects
// faults: it can delay what clients send (a lagging link) or stop
// forwarding altogether without closing anything (a silently dead link).
type faultProxy struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	delay  time.Duration
	paused chan struct{} // non-nil while paused; closed on resume
	conns  []net.Conn
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{l: l, target: target}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(s, c, true) }()
			go func() { defer wg.Done(); p.pipe(c, s, false) }()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		p.resume()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *faultProxy) addr() string { return p.l.Addr().String() }

// pipe copies src to dst, applying the faults; fromClient marks the
// client-to-server direction, the one that is delayed.
func (p *faultProxy) pipe(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			delay, paused := p.delay, p.paused
			p.mu.Unlock()
			if paused != nil {
				<-paused
			}
			if fromClient && delay > 0 {
				time.Sleep(delay) // the injected fault, not synchronisation
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = src.Close()
			}
			return
		}
	}
}

// setDelay delays every later client-to-server write by d.
func (p *faultProxy) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// pause stops forwarding in both directions, leaving connections open.
func (p *faultProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

// resume forwards again.
func (p *faultProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}
