package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/stenthq/stent/domain"
)

// QueueChange answers POST /v1/queues/{name}/pause and .../resume.
type QueueChange struct {
	Queue  string `json:"queue"`
	Paused bool   `json:"paused"`
	// Changed is false when the queue already was in that state.
	Changed bool `json:"changed"`
}

// listQueues answers GET /v1/queues: every queue with work or a pause
// state, by name, a page at a time.
func (h *Handler) listQueues(w http.ResponseWriter, r *http.Request) {
	p, ok := h.page(w, r, listQueues)
	if !ok {
		return
	}
	qs, err := h.eng.Queues(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if qs == nil {
		qs = []domain.QueueInfo{}
	}
	before, key := byName(listQueues, func(q domain.QueueInfo) string { return q.Name })
	qs, next := memoryPage(qs, p, before, key)
	writeJSON(w, http.StatusOK, listBody("queues", qs, p, next))
}

// pauseQueue answers POST /v1/queues/{name}/pause: 200 with the change;
// 400 invalid_argument for a bad name.
func (h *Handler) pauseQueue(w http.ResponseWriter, r *http.Request) { h.setQueuePaused(w, r, true) }

// resumeQueue answers POST /v1/queues/{name}/resume.
func (h *Handler) resumeQueue(w http.ResponseWriter, r *http.Request) { h.setQueuePaused(w, r, false) }

func (h *Handler) setQueuePaused(w http.ResponseWriter, r *http.Request, pause bool) {
	name := r.PathValue("name")
	set := h.eng.ResumeQueue
	if pause {
		set = h.eng.PauseQueue
	}
	changed, err := set(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, QueueChange{Queue: name, Paused: pause, Changed: changed})
}

// LimitList answers GET /v1/limits.
type LimitList struct {
	Limits []domain.LimitUsage `json:"limits"`
	// Limit is the most rows asked for.
	Limit int `json:"limit"`
}

// listLimits answers GET /v1/limits: the flow-limit groups with live work
// or (rate) starts in their window, with their limit and current use,
// concurrency groups first, each kind by group, at most ?limit= rows.
func (h *Handler) listLimits(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 || x > MaxListLimit {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("limit %q: want a whole number from 1 to %d", v, MaxListLimit), nil)
			return
		}
		n = x
	}
	list, err := h.eng.LimitUsage(r.Context(), n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.LimitUsage{}
	}
	writeJSON(w, http.StatusOK, LimitList{Limits: list, Limit: n})
}
