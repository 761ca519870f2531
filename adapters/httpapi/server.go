package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Server defaults: a slow or idle client holds a connection (and a
// goroutine, and a file descriptor) for at most these bounds.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConns          = 1024
	// LongPollGrace is added to a long poll's wait (?wait=) for its write
	// deadline, so the answer is still written after a full wait.
	LongPollGrace = 10 * time.Second
)

// ErrInsecureAddr is returned by Start for a listen address beyond
// loopback without a token, unless ServerOptions.InsecureNoAuth is set.
var ErrInsecureAddr = errors.New("httpapi: refusing to listen beyond loopback without a token " +
	"(set STENT_HTTP_TOKEN, listen on 127.0.0.1, or pass --insecure-no-auth / STENT_INSECURE_NO_AUTH=true)")

// ServerOptions configures NewServer. A zero field takes its default.
type ServerOptions struct {
	// Addr is the listen address, e.g. 127.0.0.1:8080; ":0" picks a port.
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers (default 10s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// 30s): a client dribbling a body is cut off, also after a 401.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (default 30s). Long polls
	// (GET /v1/executions/{id}/result?wait=...) get their own deadline:
	// their wait plus LongPollGrace.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long (default
	// 60s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns caps concurrent connections (default 1024); further
	// clients wait in the kernel's accept queue. Negative: no cap.
	MaxConns int
	// InsecureNoAuth allows listening beyond loopback without a token
	// (a WARN line says so at start).
	InsecureNoAuth bool
	// ShutdownGrace bounds the graceful shutdown (default 10s), so a hung
	// request cannot eat the workers' drain time.
	ShutdownGrace time.Duration
	// Logger receives the listener's life and the server's errors; nil
	// discards.
	Logger *slog.Logger
}

func (o *ServerOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownGrace, 10*time.Second)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
}

// Server serves a Handler on a TCP listener: Start binds and serves in the
// background, Stop drains the handler and shuts down gracefully.
type Server struct {
	h   *Handler
	o   ServerOptions
	log *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewServer returns a server for h; Start listens.
func NewServer(h *Handler, o ServerOptions) *Server {
	o.defaults()
	s := &Server{h: h, o: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Handler returns the handler the server serves.
func (s *Server) Handler() *Handler { return s.h }

// IsLoopback reports whether addr (host:port) listens on loopback only:
// a loopback IP or "localhost". An empty host (all interfaces) or any
// other name is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAuth returns ErrInsecureAddr when addr reaches beyond loopback,
// no token is set and insecure is false.
func CheckAuth(addr, token string, insecure bool) error {
	if token == "" && !insecure && !IsLoopback(addr) {
		return fmt.Errorf("%w: %q", ErrInsecureAddr, addr)
	}
	return nil
}

// Start listens on the configured address and serves in the background.
// It returns once the listener is bound (a bad or busy address is an
// error, and so is an address beyond loopback without a token unless
// InsecureNoAuth is set).
func (s *Server) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	if err := CheckAuth(s.o.Addr, s.h.o.Token, s.o.InsecureNoAuth); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %q: %w", s.o.Addr, err)
	}
	if s.o.MaxConns > 0 {
		ln = netutil.LimitListener(ln, s.o.MaxConns)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    s.o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	s.log.Info("http server listening", "addr", ln.Addr().String(), "auth", s.h.o.Token != "",
		"max_conns", s.o.MaxConns, "cors_origins", s.h.o.CORSOrigins)
	if s.h.o.Token == "" && !IsLoopback(s.o.Addr) {
		s.log.Warn("the HTTP API listens beyond loopback WITHOUT authentication (--insecure-no-auth); anyone who reaches it can dispatch, cancel and read executions",
			"addr", ln.Addr().String())
	}
	return nil
}

// Addr returns the bound address once started ("" before).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop drains the handler (/readyz answers 503, long polls in progress
// are answered 202) and shuts the server down gracefully, bounded by ctx
// and ShutdownGrace; requests still running then are cut off.
func (s *Server) Stop(ctx context.Context) error {
	s.h.Drain()
	ctx, cancel := context.WithTimeout(ctx, s.o.ShutdownGrace)
	defer cancel()
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	return err
}
