// Package httpapi is Stent's HTTP face, a driving adapter over the engine:
// /healthz, /readyz, /metrics (when given a handler) and the JSON API
// under /v1 (SPEC §11), as a plain http.Handler (New) with its options:
// bearer-token auth, body limits, a logger. Server adds the listener, the
// timeouts and the graceful shutdown stentd uses. It never imports fx;
// stentfx only calls these constructors.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// Options configures New. The zero value works.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// /v1; health, readiness and metrics stay open.
	Token string
	// MaxBody bounds request bodies (default app.DefaultMaxPayloadBytes +
	// 64 KiB); larger ones get 413.
	MaxBody int64
	// Metrics serves /metrics; nil answers 404 there.
	Metrics http.Handler
	// Workers lists the process's workers for /readyz; nil means none.
	Workers func() []*app.Worker
	// Notifier's health is reported by /readyz (never a failure).
	Notifier ports.Notifier
	// Logger receives failed requests (500s) and, at debug level, every
	// request; nil discards.
	Logger *slog.Logger
	// CORSOrigins lists the browser origins allowed to call the API
	// cross-origin ("https://console.example.com"; "*" allows any). Empty,
	// the default, sends no CORS headers at all: browsers then refuse
	// cross-origin calls.
	CORSOrigins []string
	// Console serves the web console at / (its page, assets and the
	// /console/login, /console/logout and /console/session endpoints).
	// Console(eng, o) sets it; stentd does.
	Console bool
}

// store is what the handler reads itself (everything else goes through
// the engine): an execution's state, and the store's health for /readyz.
type store interface {
	ports.ExecutionStore
	Ping(ctx context.Context) error
}

// Handler serves the API. Build it with New.
type Handler struct {
	eng      *app.Engine
	store    store
	o        Options
	log      *slog.Logger
	handler  http.Handler
	mux      *routeMux
	draining atomic.Bool

	// stopping ends long polls (answered 202) once Drain is called.
	stopping context.Context
	stop     context.CancelFunc
}

var _ http.Handler = (*Handler)(nil)

// New builds the handler over eng (its store answers /readyz).
func New(eng *app.Engine, o Options) *Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = app.DefaultMaxPayloadBytes + 64<<10
	}
	h := &Handler{eng: eng, store: eng.Store(), o: o, log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.stopping, h.stop = context.WithCancel(context.Background())
	h.mux = &routeMux{ServeMux: http.NewServeMux()}
	h.routes()
	h.handler = h.top()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// SetDraining makes /readyz answer 503 (the first step of a shutdown).
func (h *Handler) SetDraining() { h.draining.Store(true) }

// Drain starts a shutdown: /readyz answers 503 and the long polls in
// progress (and any later one) are answered 202 with the state so far.
func (h *Handler) Drain() {
	h.SetDraining()
	h.stop()
}

// routes registers every endpoint. Every route registered on h.mux is
// recorded (Routes) and must be described in openapi.json: the test
// TestOpenAPIDocumentsEveryRoute fails naming a route that is not.
func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /healthz", h.healthz)
	m.HandleFunc("GET /readyz", h.readyz)
	if h.o.Metrics != nil {
		m.Handle("GET /metrics", h.o.Metrics)
	}
	m.HandleFunc("GET /v1/openapi.json", serveOpenAPI) // public: no token
	api := func(pattern string, fn http.HandlerFunc) { m.Handle(pattern, h.authorize(fn)) }
	api("POST /v1/executions", h.dispatch)
	api("GET /v1/executions", h.listExecutions)
	api("GET /v1/executions/{id}", h.getExecution)
	api("GET /v1/executions/{id}/result", h.getResult)
	api("POST /v1/executions/{id}/signals/{name}", h.sendSignal)
	api("GET /v1/executions/{id}/signals", h.listSignals)
	api("DELETE /v1/executions/{id}/signals/{name}/{seq}", h.discardSignal)
	api("POST /v1/executions/{id}/cancel", h.cancel)
	api("POST /v1/executions/{id}/fork", h.fork)
	api("POST /v1/executions/{id}/reset", h.reset)
	api("GET /v1/dead-letters", h.listDeadLetters)
	api("GET /v1/dead-letters/{task_id}", h.getDeadLetter)
	api("POST /v1/dead-letters/{task_id}/replay", h.replayDeadLetter)
	api("POST /v1/dead-letters/replay-all", h.replayAllDeadLetters)
	api("DELETE /v1/dead-letters/{task_id}", h.discardDeadLetter)
	api("GET /v1/stats", h.stats)
	api("GET /v1/stats/throughput", h.throughput)
	api("GET /v1/workers", h.listWorkers)
	api("GET /v1/executions/{id}/tasks/{task_id}", h.getTask)
	if h.o.Console {
		h.consoleRoutes()
	}
	api("GET /v1/schedules", h.listSchedules)
	api("POST /v1/schedules", h.createSchedule)
	api("GET /v1/schedules/{name}", h.getSchedule)
	api("PUT /v1/schedules/{name}", h.updateSchedule)
	api("DELETE /v1/schedules/{name}", h.deleteSchedule)
	api("POST /v1/schedules/{name}/pause", h.pauseSchedule)
	api("POST /v1/schedules/{name}/resume", h.resumeSchedule)
	api("POST /v1/schedules/{name}/trigger", h.triggerSchedule)
	api("GET /v1/queues", h.listQueues)
	api("GET /v1/limits", h.listLimits)
	api("POST /v1/queues/{name}/pause", h.pauseQueue)
	api("POST /v1/queues/{name}/resume", h.resumeQueue)
}

// top answers unknown routes with a JSON 404 (or 405 when only the method
// is wrong), checks the token on /v1 first, and logs each request at
// debug level.
func (h *Handler) top() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			h.log.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(started))
		}()
		if h.cors(sw, r) {
			return
		}
		// A path the mux would clean (a double slash, a dot segment) gets
		// a JSON 404 naming the clean form, not the mux's empty-bodied
		// redirect: API clients do not follow redirects of a POST.
		if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
			writeError(sw, http.StatusNotFound, "not_found",
				fmt.Sprintf("no route for %s %s; the path is not in clean form (did you mean %s?)", r.Method, r.URL.Path, clean), nil)
			return
		}
		if _, pattern := h.mux.Handler(r); pattern == "" {
			if isAPI(r.URL.Path) && !h.authorized(r) {
				h.unauthorized(sw)
				return
			}
			if allow := h.allowed(r); len(allow) > 0 {
				sw.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(sw, http.StatusMethodNotAllowed, "method_not_allowed",
					fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")), nil)
				return
			}
			writeError(sw, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), nil)
			return
		}
		h.mux.ServeHTTP(sw, r)
	})
}

// cleanPath is p as the mux routes it: path.Clean, keeping a trailing
// slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// allowed lists the methods that do have a route for r's path.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "" {
			out = append(out, m)
		}
	}
	return out
}

// cors adds the CORS headers for an allowed Origin and answers its
// preflight (true: answered). Without configured origins it does nothing.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.o.CORSOrigins) == 0 {
		return false
	}
	allowed := false
	for _, o := range h.o.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			allowed = true
			break
		}
	}
	w.Header().Add("Vary", "Origin")
	if !allowed {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Traceparent, Tracestate")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func isAPI(path string) bool { return path == "/v1" || strings.HasPrefix(path, "/v1/") }

func (h *Handler) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch h.authenticate(r) {
		case authMissing:
			h.unauthorized(w)
			return
		case authCSRFMissing:
			writeError(w, http.StatusForbidden, "forbidden",
				"a console session needs the "+CSRFHeader+" header on "+r.Method+" requests (the console sends it; API clients use Authorization: Bearer <token>)", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r may read /v1: the bearer token or a
// console session (no token configured: everyone).
func (h *Handler) authorized(r *http.Request) bool {
	return h.authenticate(r) != authMissing
}

func (h *Handler) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stent"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token>)", nil)
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
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
func (h *Handler) Ready(ctx context.Context) ReadyReport {
	rep := ReadyReport{Ready: true, Status: "ready", Store: "ok", Notifier: "ok", Workers: []WorkerReport{}}
	if err := notifierHealth(h.o.Notifier); err != nil {
		rep.Notifier = "degraded: " + err.Error()
	}
	workersReady := true
	if h.o.Workers != nil {
		for _, w := range h.o.Workers() {
			rep.Workers = append(rep.Workers, WorkerReport{ID: w.ID(), State: w.State().String(),
				Active: w.Active(), Slots: w.Options().MaxConcurrency})
			workersReady = workersReady && w.State() == app.WorkerReady
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := h.storeReady(ctx); err != nil {
		rep.Ready, rep.Status, rep.Store = false, "unavailable", err.Error()
	}
	switch {
	case h.draining.Load():
		rep.Ready, rep.Status = false, "draining"
	case rep.Ready && !workersReady:
		rep.Ready, rep.Status = false, "starting"
	}
	return rep
}

func (h *Handler) storeReady(ctx context.Context) error {
	if err := h.store.Ping(ctx); err != nil {
		return err
	}
	if m, ok := h.store.(ports.Migrator); ok {
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

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	rep := h.Ready(r.Context())
	status := http.StatusOK
	if !rep.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// notifierHealth returns the notifier's health error, if it reports one.
func notifierHealth(n ports.Notifier) error {
	if hn, ok := n.(ports.NotifierHealth); ok {
		return hn.Health()
	}
	return nil
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
