package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// ScheduleRequest is the body of POST /v1/schedules and PUT
// /v1/schedules/{name} (where the name comes from the path).
type ScheduleRequest struct {
	Name     string          `json:"name,omitempty"`
	Cron     string          `json:"cron"`
	TimeZone string          `json:"time_zone,omitempty"`
	Function string          `json:"function"`
	Input    json.RawMessage `json:"input,omitempty"`
	// CatchUp is "skip", "once" (default) or "all:N".
	CatchUp string `json:"catch_up,omitempty"`
	// Overlap is "allow", "skip" (default) or "queue_one".
	Overlap string `json:"overlap,omitempty"`
	// Paused creates the schedule paused (ignored by PUT).
	Paused bool `json:"paused,omitempty"`
}

func (req ScheduleRequest) def() (app.ScheduleDef, string, error) {
	d := app.ScheduleDef{Name: req.Name, Cron: req.Cron, TimeZone: req.TimeZone, Function: req.Function,
		Input: req.Input, Overlap: domain.Overlap(req.Overlap), Paused: req.Paused}
	if req.CatchUp != "" {
		c, err := domain.ParseCatchUp(req.CatchUp)
		if err != nil {
			return d, "catch_up", err
		}
		d.CatchUp = c
	}
	return d, "", nil
}

// listSchedules answers GET /v1/schedules: the schedules by name, a page
// at a time.
func (h *Handler) listSchedules(w http.ResponseWriter, r *http.Request) {
	p, ok := h.page(w, r, listSchedules)
	if !ok {
		return
	}
	list, err := h.eng.Schedules(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.Schedule{}
	}
	before, key := byName(listSchedules, func(s domain.Schedule) string { return s.Name })
	list, next := memoryPage(list, p, before, key)
	writeJSON(w, http.StatusOK, listBody("schedules", list, p, next))
}

func (h *Handler) createSchedule(w http.ResponseWriter, r *http.Request) {
	var req ScheduleRequest
	if !h.readJSON(w, r, &req, false) {
		return
	}
	def, field, err := req.def()
	if err != nil {
		h.failField(w, r, field, err)
		return
	}
	s, err := h.eng.CreateSchedule(r.Context(), def)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

func (h *Handler) getSchedule(w http.ResponseWriter, r *http.Request) {
	s, err := h.eng.Schedule(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) updateSchedule(w http.ResponseWriter, r *http.Request) {
	var req ScheduleRequest
	if !h.readJSON(w, r, &req, false) {
		return
	}
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		writeError(w, http.StatusBadRequest, "invalid_argument", "name: the body names \""+req.Name+"\" but the path names \""+name+"\"; a schedule cannot be renamed", nil)
		return
	}
	req.Name = name
	def, field, err := req.def()
	if err != nil {
		h.failField(w, r, field, err)
		return
	}
	s, err := h.eng.UpdateSchedule(r.Context(), def)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.eng.DeleteSchedule(r.Context(), name); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true, "name": name})
}

func (h *Handler) pauseSchedule(w http.ResponseWriter, r *http.Request) {
	s, err := h.eng.PauseSchedule(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) resumeSchedule(w http.ResponseWriter, r *http.Request) {
	s, err := h.eng.ResumeSchedule(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) triggerSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := h.eng.TriggerSchedule(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"execution_id": id})
}
