package stentfx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// MaxResultWait is the longest ?wait= a result request may ask for.
const MaxResultWait = 60 * time.Second

// MaxListLimit is the largest ?limit= of a list request.
const MaxListLimit = 1000

// DispatchRequest is the body of POST /v1/executions. Durations use the
// Stent grammar (30s, 5m, 1h30m, 7d).
type DispatchRequest struct {
	Function       string          `json:"function"`
	Input          json.RawMessage `json:"input,omitempty"`
	Queue          *string         `json:"queue,omitempty"`
	Priority       *int            `json:"priority,omitempty"`
	Tags           *[]string       `json:"tags,omitempty"`
	Delay          string          `json:"delay,omitempty"`
	RunAt          *time.Time      `json:"run_at,omitempty"`
	MaxDuration    string          `json:"max_duration,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// DispatchResponse answers a dispatch: 201 when created, 200 when an
// idempotency key was reused (the first execution's id).
type DispatchResponse struct {
	ExecutionID string `json:"execution_id"`
	Created     bool   `json:"created"`
}

// ResultResponse is the body of GET /v1/executions/{id}/result: 200 once
// terminal (ok with value, or error), 202 while running.
type ResultResponse struct {
	ExecutionID string                `json:"execution_id"`
	State       domain.ExecutionState `json:"state"`
	OK          bool                  `json:"ok"`
	Value       json.RawMessage       `json:"value,omitempty"`
	Error       *domain.TaskError     `json:"error,omitempty"`
}

// ReplayRequest is the optional body of the replay endpoints.
type ReplayRequest struct {
	// Queue moves the replayed tasks to another queue.
	Queue string `json:"queue,omitempty"`
	// KeepAttempts keeps the attempt counts instead of starting afresh.
	KeepAttempts bool `json:"keep_attempts,omitempty"`
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	var req DispatchRequest
	if !s.readJSON(w, r, &req, false) {
		return
	}
	if strings.TrimSpace(req.Function) == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", `"function" is required: the name of a registered durable function`, nil)
		return
	}
	id := domain.NewID()
	opts := []app.DispatchOption{app.WithExecutionID(id)}
	if req.Queue != nil {
		opts = append(opts, app.WithQueue(*req.Queue))
	}
	if req.Priority != nil {
		opts = append(opts, app.WithPriority(*req.Priority))
	}
	if req.Tags != nil {
		opts = append(opts, app.WithTags(*req.Tags...))
	}
	if req.Delay != "" {
		d, err := domain.ParseDuration(req.Delay)
		if err != nil {
			s.fail(w, r, fmt.Errorf(`"delay": %w`, err))
			return
		}
		opts = append(opts, app.WithDelay(d))
	}
	if req.RunAt != nil {
		opts = append(opts, app.WithRunAt(*req.RunAt))
	}
	if req.MaxDuration != "" {
		d, err := domain.ParseDuration(req.MaxDuration)
		if err != nil {
			s.fail(w, r, fmt.Errorf(`"max_duration": %w`, err))
			return
		}
		opts = append(opts, app.WithMaxDuration(d))
	}
	if req.IdempotencyKey != "" {
		opts = append(opts, app.WithIdempotencyKey(req.IdempotencyKey))
	}
	// A caller's W3C trace context makes the dispatch span its child.
	ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	got, err := s.eng.DispatchByName(ctx, req.Function, req.Input, opts...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if got != id {
		writeJSON(w, http.StatusOK, DispatchResponse{ExecutionID: got, Created: false})
		return
	}
	w.Header().Set("Location", "/v1/executions/"+got)
	writeJSON(w, http.StatusCreated, DispatchResponse{ExecutionID: got, Created: true})
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ports.ExecutionFilter{Function: q.Get("function"), Queue: q.Get("queue")}
	for _, st := range splitList(q["state"]) {
		f.States = append(f.States, domain.ExecutionState(st))
	}
	var ok bool
	if f.Limit, f.Offset, ok = s.page(w, r); !ok {
		return
	}
	list, err := s.eng.ListExecutions(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.Execution{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": list, "limit": f.Limit, "offset": f.Offset})
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	v, err := s.eng.StateOf(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var wait time.Duration
	if raw := r.URL.Query().Get("wait"); raw != "" {
		d, err := domain.ParseDuration(raw)
		if err != nil {
			s.fail(w, r, fmt.Errorf("wait: %w", err))
			return
		}
		if d > MaxResultWait {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("wait %q is longer than the limit of 60s", raw), nil)
			return
		}
		wait = d
	}
	var res domain.Result
	var err error
	if wait > 0 {
		// The wait also ends when the server stops: the poll is answered
		// 202 with the state so far.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.stopping, cancel)
		defer stop()
		res, err = s.eng.WaitFor(ctx, id, app.WithWaitTimeout(wait))
		if err != nil && (errors.Is(err, domain.ErrExpired) || ctx.Err() != nil) && r.Context().Err() == nil {
			s.stillRunning(w, r, id)
			return
		}
	} else {
		res, err = s.eng.ResultOf(r.Context(), id)
		if errors.Is(err, domain.ErrStillRunning) {
			writeJSON(w, http.StatusAccepted, ResultResponse{ExecutionID: id, State: res.State})
			return
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ResultResponse{ExecutionID: res.ExecutionID, State: res.State, OK: res.OK(), Value: res.Value, Error: res.Error})
}

// stillRunning answers 202 with the execution's current state.
func (s *Server) stillRunning(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
	defer cancel()
	rr := ResultResponse{ExecutionID: id}
	if ex, err := s.store.GetExecution(ctx, id); err == nil {
		rr.State = ex.State
		if ex.State.Terminal() {
			res := ex.Outcome()
			writeJSON(w, http.StatusOK, ResultResponse{ExecutionID: id, State: res.State, OK: res.OK(), Value: res.Value, Error: res.Error})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, rr)
}

func (s *Server) sendSignal(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	payload, ok := s.readBody(w, r)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(payload))) == 0 {
		payload = []byte("null")
	}
	if !json.Valid(payload) {
		s.fail(w, r, domain.InvalidArgument("signal %q: the request body is not valid JSON (send the payload as a JSON value, e.g. \"yes\" or {\"ok\":true})", name))
		return
	}
	if err := s.eng.SendSignalJSON(r.Context(), id, name, payload); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"execution_id": id, "signal": name})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.eng.Cancel(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	ex, err := s.store.GetExecution(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"execution_id": id, "state": ex.State})
}

func (s *Server) deadLetterFilter(w http.ResponseWriter, r *http.Request) (ports.DeadLetterFilter, bool) {
	q := r.URL.Query()
	f := ports.DeadLetterFilter{Queue: q.Get("queue"), StepName: q.Get("function"), ExecutionID: q.Get("execution_id")}
	var ok bool
	f.Limit, f.Offset, ok = s.page(w, r)
	return f, ok
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	f, ok := s.deadLetterFilter(w, r)
	if !ok {
		return
	}
	list, err := s.eng.DeadLetters(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": list, "limit": f.Limit, "offset": f.Offset})
}

func (s *Server) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	dl, err := s.eng.DeadLetter(r.Context(), r.PathValue("task_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dl)
}

func replayOptions(req ReplayRequest) []app.ReplayOption {
	var opts []app.ReplayOption
	if req.Queue != "" {
		opts = append(opts, app.WithReplayQueue(req.Queue))
	}
	if req.KeepAttempts {
		opts = append(opts, app.KeepAttempts())
	}
	return opts
}

func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !s.readJSON(w, r, &req, true) {
		return
	}
	t, err := s.eng.ReplayDeadLetter(r.Context(), r.PathValue("task_id"), replayOptions(req)...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) replayAllDeadLetters(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !s.readJSON(w, r, &req, true) {
		return
	}
	q := r.URL.Query()
	f := ports.DeadLetterFilter{Queue: q.Get("queue"), StepName: q.Get("function"), ExecutionID: q.Get("execution_id")}
	res, err := s.eng.ReplayAllDeadLetters(r.Context(), f, replayOptions(req)...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task_id")
	if err := s.eng.DiscardDeadLetter(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_id": id, "discarded": true})
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.eng.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// listWorkers answers GET /v1/workers: the worker registry, live workers
// first, optionally only those in the ?state= states (repeated or
// comma-separated).
func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request) {
	var want map[domain.WorkerState]bool
	for _, st := range splitList(r.URL.Query()["state"]) {
		if _, err := domain.ParseWorkerState(st); err != nil {
			s.fail(w, r, err)
			return
		}
		if want == nil {
			want = map[domain.WorkerState]bool{}
		}
		want[domain.WorkerState(st)] = true
	}
	all, err := s.eng.ListWorkers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := []domain.WorkerInfo{}
	for _, wk := range all {
		if want == nil || want[wk.State] {
			list = append(list, wk)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"workers": list})
}

// page reads ?limit= (default 100, at most MaxListLimit) and ?offset=.
func (s *Server) page(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	q := r.URL.Query()
	limit, offset = 100, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("limit %q: want a whole number from 1 to %d", v, MaxListLimit), nil)
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("offset %q: want a whole number from 0", v), nil)
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// splitList flattens repeated and comma-separated query values.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// readBody reads the whole body within MaxBody (413 beyond it).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("the request body is larger than the limit of %d bytes", tooBig.Limit), nil)
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "invalid_argument", "reading the request body: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

// readJSON decodes the body into v: 413 when too large, 400 when it is not
// one JSON object of the expected shape. An empty body is allowed only
// when optional.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, ok := s.readBody(w, r)
	if !ok {
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		writeError(w, http.StatusBadRequest, "invalid_argument", "the request body is empty; want a JSON object", nil)
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "the request body is not valid JSON for this call: "+err.Error(), nil)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_argument", "the request body holds more than one JSON value", nil)
		return false
	}
	return true
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error: a stable snake_case code and a message;
// an unknown function also lists the registered names.
type ErrorDetail struct {
	Code       string   `json:"code"`
	Message    string   `json:"message"`
	Registered []string `json:"registered,omitzero"`
}

// StatusOf maps an engine error to its HTTP status (SPEC §11): 400 bad
// input, duration or function; 404 not found; 409 finished; 413 too large;
// 503 store down; 500 anything else.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, domain.ErrExecutionFinished), errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrInvalidTransition):
		return http.StatusConflict
	case errors.Is(err, domain.ErrPayloadTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, domain.ErrInvalidArgument), errors.Is(err, domain.ErrUnregisteredFunction),
		errors.Is(err, domain.ErrSerialization):
		return http.StatusBadRequest
	case errors.Is(err, domain.ErrUnavailable), errors.Is(err, domain.ErrClosed), errors.Is(err, domain.ErrSchemaVersion):
		return http.StatusServiceUnavailable
	case errors.Is(err, domain.ErrStillRunning):
		return http.StatusAccepted
	}
	return http.StatusInternalServerError
}

// fail writes err as a JSON error with its status and code; a 500 is
// logged and answered with a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	code := "internal"
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		code = coded.ErrorCode()
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "http request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "internal error; see the server log"
	}
	var registered []string
	var unreg *app.UnregisteredFunctionError
	if errors.As(err, &unreg) {
		registered = unreg.Registered
		if registered == nil {
			registered = []string{}
		}
	}
	writeError(w, status, code, msg, registered)
}

func writeError(w http.ResponseWriter, status int, code, msg string, registered []string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg, Registered: registered}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
