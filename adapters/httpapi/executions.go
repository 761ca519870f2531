package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// SingletonKey: at most one live execution per key; a dispatch while
	// one is live answers 200 with its id and outcome "joined".
	SingletonKey string `json:"singleton_key,omitempty"`
	// DebounceKey and Debounce (a duration, "30s"): the run starts
	// Debounce after the last dispatch with the key, with its input; a
	// dispatch while it has not started answers 200 with outcome
	// "debounced". Both or neither.
	DebounceKey string `json:"debounce_key,omitempty"`
	Debounce    string `json:"debounce,omitempty"`
}

// DispatchResponse answers a dispatch: 201 when created, 200 when an
// idempotency key was reused (the first execution's id), a singleton
// joined or a debounce applied; Outcome says which (created, existing,
// joined, debounced).
type DispatchResponse struct {
	ExecutionID string                 `json:"execution_id"`
	Created     bool                   `json:"created"`
	Outcome     domain.DispatchOutcome `json:"outcome"`
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

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) {
	var req DispatchRequest
	if !h.readJSON(w, r, &req, false) {
		return
	}
	if strings.TrimSpace(req.Function) == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", `"function" is required: the name of a registered durable function`, nil)
		return
	}
	// A time-ordered (v7) id, as the engine mints everywhere else.
	id := domain.NewTimeID(h.eng.Clock().Now())
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
			h.failField(w, r, `"delay"`, err)
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
			h.failField(w, r, `"max_duration"`, err)
			return
		}
		opts = append(opts, app.WithMaxDuration(d))
	}
	if req.IdempotencyKey != "" {
		opts = append(opts, app.WithIdempotencyKey(req.IdempotencyKey))
	}
	if req.SingletonKey != "" {
		opts = append(opts, app.WithSingleton(req.SingletonKey))
	}
	switch {
	case req.DebounceKey != "" && req.Debounce == "":
		writeError(w, http.StatusBadRequest, "invalid_argument", `"debounce_key" needs "debounce": the window, e.g. "30s"`, nil)
		return
	case req.DebounceKey == "" && req.Debounce != "":
		writeError(w, http.StatusBadRequest, "invalid_argument", `"debounce" needs "debounce_key": the key dispatches are debounced by`, nil)
		return
	case req.DebounceKey != "":
		d, err := domain.ParseDuration(req.Debounce)
		if err != nil {
			h.failField(w, r, `"debounce"`, err)
			return
		}
		opts = append(opts, app.WithDebounce(req.DebounceKey, d))
	}
	var info app.DispatchInfo
	opts = append(opts, app.ReportDispatch(&info))
	// A caller's W3C trace context makes the dispatch span its child.
	ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	got, err := h.eng.DispatchByName(ctx, req.Function, req.Input, opts...)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if info.Outcome != app.DispatchCreated {
		writeJSON(w, http.StatusOK, DispatchResponse{ExecutionID: got, Created: false, Outcome: info.Outcome})
		return
	}
	w.Header().Set("Location", "/v1/executions/"+got)
	writeJSON(w, http.StatusCreated, DispatchResponse{ExecutionID: got, Created: true, Outcome: info.Outcome})
}

func (h *Handler) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ports.ExecutionFilter{Function: q.Get("function"), Queue: q.Get("queue"), Version: q.Get("version"),
		IDPrefix: q.Get("id_prefix"), Text: q.Get("text")}
	for _, st := range splitList(q["state"]) {
		f.States = append(f.States, domain.ExecutionState(st))
	}
	// Tags are not split at commas: a tag may hold one. Repeat ?tag=.
	for _, tag := range q["tag"] {
		if tag != "" {
			f.Tags = append(f.Tags, tag)
		}
	}
	for _, tp := range []struct {
		name string
		to   *time.Time
	}{{"created_from", &f.CreatedFrom}, {"created_before", &f.CreatedBefore}} {
		raw := q.Get(tp.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument",
				fmt.Sprintf("%s %q is not an RFC 3339 time; want e.g. 2026-12-06T09:30:00Z or 2026-12-06T10:30:00+01:00", tp.name, raw), nil)
			return
		}
		*tp.to = t
	}
	p, ok := h.page(w, r, listExecutions)
	if !ok {
		return
	}
	f.Limit, f.Offset = p.limit+1, p.offset
	if p.after != nil {
		f.After = p.after.keyset()
	}
	list, err := h.eng.ListExecutions(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.Execution{}
	}
	list, next := keysetPage(list, p.limit, executionKey)
	writeJSON(w, http.StatusOK, listBody("executions", list, p, next))
}

func (h *Handler) getExecution(w http.ResponseWriter, r *http.Request) {
	v, err := h.eng.StateOf(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) getResult(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var wait time.Duration
	if raw := r.URL.Query().Get("wait"); raw != "" {
		d, err := domain.ParseDuration(raw)
		if err != nil {
			h.failField(w, r, "wait", err)
			return
		}
		if d > MaxResultWait {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("wait %q is longer than the limit of 60s", raw), nil)
			return
		}
		wait = d
		// A long poll outlives the server's WriteTimeout: its own bound is
		// the wait plus a grace for the answer.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + LongPollGrace))
	}
	var res domain.Result
	var err error
	if wait > 0 {
		// The wait also ends when the server stops: the poll is answered
		// 202 with the state so far.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(h.stopping, cancel)
		defer stop()
		res, err = h.eng.WaitFor(ctx, id, app.WithWaitTimeout(wait))
		if err != nil && (errors.Is(err, domain.ErrExpired) || ctx.Err() != nil) && r.Context().Err() == nil {
			h.stillRunning(w, r, id)
			return
		}
	} else {
		res, err = h.eng.ResultOf(r.Context(), id)
		if errors.Is(err, domain.ErrStillRunning) {
			writeJSON(w, http.StatusAccepted, ResultResponse{ExecutionID: id, State: res.State})
			return
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ResultResponse{ExecutionID: res.ExecutionID, State: res.State, OK: res.OK(), Value: res.Value, Error: res.Error})
}

// stillRunning answers 202 with the execution's current state.
func (h *Handler) stillRunning(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
	defer cancel()
	rr := ResultResponse{ExecutionID: id}
	if ex, err := h.store.GetExecution(ctx, id); err == nil {
		rr.State = ex.State
		if ex.State.Terminal() {
			res := ex.Outcome()
			writeJSON(w, http.StatusOK, ResultResponse{ExecutionID: id, State: res.State, OK: res.OK(), Value: res.Value, Error: res.Error})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, rr)
}

func (h *Handler) sendSignal(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	payload, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(payload))) == 0 {
		payload = []byte("null")
	}
	if !json.Valid(payload) {
		h.fail(w, r, domain.InvalidArgument("signal %q: the request body is not valid JSON (send the payload as a JSON value, e.g. \"yes\" or {\"ok\":true})", name))
		return
	}
	if err := h.eng.SendSignalJSON(r.Context(), id, name, payload); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"execution_id": id, "signal": name})
}

// listSignals answers the execution's signal messages (name, seq, payload,
// consumed_by: empty while pending), ordered by name, then seq, a page at
// a time.
func (h *Handler) listSignals(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, ok := h.page(w, r, listSignals)
	if !ok {
		return
	}
	msgs, err := h.eng.Signals(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msgs, next := memoryPage(msgs, p, signalAtOrBefore, signalKey)
	body := listBody("signals", msgs, p, next)
	body["execution_id"] = id
	writeJSON(w, http.StatusOK, body)
}

// discardSignal deletes a pending signal message (app.Engine.DiscardSignal):
// 404 for an unknown execution or message, 409 for a consumed one.
func (h *Handler) discardSignal(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		h.fail(w, r, domain.InvalidArgument("signal %q: sequence number %q; want a whole number from 1", name, r.PathValue("seq")))
		return
	}
	msg, err := h.eng.DiscardSignal(r.Context(), id, name, seq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"discarded": true, "signal": msg})
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.eng.Cancel(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.store.GetExecution(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"execution_id": id, "state": ex.State})
}

// getTask answers one step (task) of an execution with its input, result,
// error and last error: the detail behind a line of the step timeline.
func (h *Handler) getTask(w http.ResponseWriter, r *http.Request) {
	id, taskID := r.PathValue("id"), r.PathValue("task_id")
	t, err := h.eng.Task(r.Context(), taskID)
	if err == nil && t.ExecutionID != id {
		err = fmt.Errorf("httpapi: task %q of execution %q: %w", taskID, id, domain.ErrNotFound)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The claim token fences the worker holding the lease; it is no
	// reader's business.
	t.ClaimToken = ""
	writeJSON(w, http.StatusOK, t)
}
