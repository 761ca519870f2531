package httpapi

import (
	"net/http"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ReplayRequest is the optional body of the replay endpoints.
type ReplayRequest struct {
	// Queue moves the replayed tasks to another queue.
	Queue string `json:"queue,omitempty"`
	// KeepAttempts keeps the attempt counts instead of starting afresh.
	KeepAttempts bool `json:"keep_attempts,omitempty"`
}

func (h *Handler) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ports.DeadLetterFilter{Queue: q.Get("queue"), StepName: q.Get("function"), ExecutionID: q.Get("execution_id")}
	p, ok := h.page(w, r, listDeadLetters)
	if !ok {
		return
	}
	f.Limit, f.Offset = p.limit+1, p.offset
	if p.after != nil {
		f.After = p.after.keyset()
	}
	list, err := h.eng.DeadLetters(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.DeadLetter{}
	}
	list, next := keysetPage(list, p.limit, deadLetterKey)
	writeJSON(w, http.StatusOK, listBody("dead_letters", list, p, next))
}

func (h *Handler) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	dl, err := h.eng.DeadLetter(r.Context(), r.PathValue("task_id"))
	if err != nil {
		h.fail(w, r, err)
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

func (h *Handler) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !h.readJSON(w, r, &req, true) {
		return
	}
	t, err := h.eng.ReplayDeadLetter(r.Context(), r.PathValue("task_id"), replayOptions(req)...)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *Handler) replayAllDeadLetters(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !h.readJSON(w, r, &req, true) {
		return
	}
	q := r.URL.Query()
	f := ports.DeadLetterFilter{Queue: q.Get("queue"), StepName: q.Get("function"), ExecutionID: q.Get("execution_id")}
	res, err := h.eng.ReplayAllDeadLetters(r.Context(), f, replayOptions(req)...)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task_id")
	if err := h.eng.DiscardDeadLetter(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_id": id, "discarded": true})
}
