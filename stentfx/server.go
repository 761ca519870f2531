package stentfx

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Addr is the listen address (Config.HTTPAddr); ":0" picks a port.
	Addr string
	// Token, when set, is required as a bearer token on /v1.
	Token string
	// MaxBody bounds request bodies (default 1 MiB + 64 KiB); larger ones
	// get 413.
	MaxBody int64
	// ShutdownGrace bounds the graceful HTTP shutdown (default 10s), so a
	// hung request cannot eat the workers' drain time.
	ShutdownGrace time.Duration
	// Metrics serves /metrics; nil answers 404 there.
	Metrics http.Handler
	// Workers are reported by /readyz (nil: none).
	Workers *Workers
	// Notifier's health is reported by /readyz (never a failure).
	Notifier ports.Notifier
	Logger   *slog.Logger
}

// Server is the HTTP face of stentd: /healthz, /readyz, /metrics and the
// JSON API under /v1 (SPEC §11).
type Server struct {
	eng      *app.Engine
	store    ports.Store
	o        ServerOptions
	log      *slog.Logger
	handler  http.Handler
	mux      *http.ServeMux
	draining atomic.Bool

	// stopping ends long polls (answered 202) when the server stops.
	stopping context.Context
	stop     context.CancelFunc

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewServer builds the server over eng (its store answers /readyz).
func NewServer(eng *app.Engine, o ServerOptions) *Server {
	if o.MaxBody <= 0 {
		o.MaxBody = app.DefaultMaxPayloadBytes + 64<<10
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	s := &Server{eng: eng, store: eng.Store(), o: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = s.top()
	return s
}

// Handler returns the server's handler (for httptest or your own server).
func (s *Server) Handler() http.Handler { return s.handler }

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
		return fmt.Errorf("stentfx: http: listen on %q: %w", s.o.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	s.log.Info("http server listening", "addr", ln.Addr().String(), "auth", s.o.Token != "")
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

// SetDraining makes /readyz answer 503 (the first step of a shutdown).
func (s *Server) SetDraining() { s.draining.Store(true) }

// Stop answers /readyz with 503, answers the long polls in progress with
// 202, and shuts the server down gracefully (bounded by ctx and
// ShutdownGrace; requests still running then are cut off).
func (s *Server) Stop(ctx context.Context) error {
	s.SetDraining()
	s.stop()
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

// routes registers every endpoint.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if s.o.Metrics != nil {
		m.Handle("GET /metrics", s.o.Metrics)
	}
	api := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.authorize(h)) }
	api("POST /v1/executions", s.dispatch)
	api("GET /v1/executions", s.listExecutions)
	api("GET /v1/executions/{id}", s.getExecution)
	api("GET /v1/executions/{id}/result", s.getResult)
	api("POST /v1/executions/{id}/signals/{name}", s.sendSignal)
	api("POST /v1/executions/{id}/cancel", s.cancel)
	api("GET /v1/dead-letters", s.listDeadLetters)
	api("GET /v1/dead-letters/{task_id}", s.getDeadLetter)
	api("POST /v1/dead-letters/{task_id}/replay", s.replayDeadLetter)
	api("POST /v1/dead-letters/replay-all", s.replayAllDeadLetters)
	api("DELETE /v1/dead-letters/{task_id}", s.discardDeadLetter)
	api("GET /v1/stats", s.stats)
	api("GET /v1/workers", s.listWorkers)
}

// top answers unknown routes with a JSON 404 (or 405 when only the method
// is wrong), checks the token on /v1 first, and logs each request at
// debug level.
func (s *Server) top() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.log.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(started))
		}()
		if _, pattern := s.mux.Handler(r); pattern == "" {
			if isAPI(r.URL.Path) && !s.authorized(r) {
				s.unauthorized(sw)
				return
			}
			if allow := s.allowed(r); len(allow) > 0 {
				sw.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(sw, http.StatusMethodNotAllowed, "method_not_allowed",
					fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")), nil)
				return
			}
			writeError(sw, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), nil)
			return
		}
		s.mux.ServeHTTP(sw, r)
	})
}

// allowed lists the methods that do have a route for r's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			out = append(out, m)
		}
	}
	return out
}

func isAPI(path string) bool { return path == "/v1" || strings.HasPrefix(path, "/v1/") }

func (s *Server) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.unauthorized(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.o.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.o.Token)) == 1
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stent"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token>)", nil)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ReadyReport is the body of /readyz.
type ReadyReport struct {
	Ready bool `json:"ready"`
	// Status is ready, starting, draining or unavailable.
	Status   string         `json:"status"`
	Store    string         `json:"store"`
	Workers  []WorkerReport `json:"workers"`
	Notifier string         `json:"notifier"`
}

// WorkerReport describes one worker in /readyz.
type WorkerReport struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Active int    `json:"active"`
	Slots  int    `json:"slots"`
}

// Ready checks readiness: not draining, the store answers with a current
// schema, and every worker is ready. A degraded notifier is reported
// but is not a failure.
func (s *Server) Ready(ctx context.Context) ReadyReport {
	rep := ReadyReport{Ready: true, Status: "ready", Store: "ok", Notifier: "ok", Workers: []WorkerReport{}}
	if err := notifierHealth(s.o.Notifier); err != nil {
		rep.Notifier = "degraded: " + err.Error()
	}
	if s.o.Workers != nil {
		for _, w := range s.o.Workers.List() {
			rep.Workers = append(rep.Workers, WorkerReport{ID: w.ID(), State: w.State().String(),
				Active: w.Active(), Slots: w.Options().MaxConcurrency})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.storeReady(ctx); err != nil {
		rep.Ready, rep.Status, rep.Store = false, "unavailable", err.Error()
	}
	switch {
	case s.draining.Load():
		rep.Ready, rep.Status = false, "draining"
	case rep.Ready && s.o.Workers != nil && !s.o.Workers.Ready():
		rep.Ready, rep.Status = false, "starting"
	}
	return rep
}

func (s *Server) storeReady(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	if m, ok := s.store.(ports.Migrator); ok {
		cur, latest, err := m.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if cur != latest {
			return fmt.Errorf("schema version %d; this build needs %d (run `stent migrate`)", cur, latest)
		}
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rep := s.Ready(r.Context())
	status := http.StatusOK
	if !rep.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// statusWriter records the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
