package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Addr is the listen address, e.g. 127.0.0.1:8080; ":0" picks a port.
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers (default 10s).
	ReadHeaderTimeout time.Duration
	// ShutdownGrace bounds the graceful shutdown (default 10s), so a hung
	// request cannot eat the workers' drain time.
	ShutdownGrace time.Duration
	// Logger receives the listener's life and the server's errors; nil
	// discards.
	Logger *slog.Logger
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
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	s := &Server{h: h, o: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Handler returns the handler the server serves.
func (s *Server) Handler() *Handler { return s.h }

// Start listens on the configured address and serves in the background.
// It returns once the listener is bound (a bad or busy address is an
// error).
func (s *Server) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %q: %w", s.o.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.h, ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	s.log.Info("http server listening", "addr", ln.Addr().String(), "auth", s.h.o.Token != "")
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
