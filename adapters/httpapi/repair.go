package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// RepairRequest is the body of POST /v1/executions/{id}/fork and
// /reset: the first top-level step to run again (from 1, the "#" of
// stent show) and, for a fork only, a new input (absent or null: the
// original's).
type RepairRequest struct {
	FromStep *int            `json:"from_step"`
	Input    json.RawMessage `json:"input,omitempty"`
}

// RepairResponse answers a fork (201, the new execution) or a reset (200,
// the same execution, pending again).
type RepairResponse struct {
	ExecutionID string                `json:"execution_id"`
	ForkedFrom  string                `json:"forked_from,omitempty"`
	FromStep    int                   `json:"from_step"`
	State       domain.ExecutionState `json:"state"`
}

// readRepair reads and checks a fork or reset body.
func (h *Handler) readRepair(w http.ResponseWriter, r *http.Request, allowInput bool) (RepairRequest, bool) {
	var req RepairRequest
	if !h.readJSON(w, r, &req, false) {
		return req, false
	}
	if bytes.Equal(bytes.TrimSpace(req.Input), []byte("null")) {
		req.Input = nil // JSON clients send null for an absent field
	}
	if req.FromStep == nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", `"from_step" is required: the first step to run again, from 1`, nil)
		return req, false
	}
	if !allowInput && req.Input != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", `"input" is not allowed: a reset keeps the execution's input (fork it to run it with another)`, nil)
		return req, false
	}
	return req, true
}

// fork creates a new execution from the first steps of {id}
// (app.Engine.Fork): 201 with the new id; 404 unknown execution; 400 a
// bad step or input.
func (h *Handler) fork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, ok := h.readRepair(w, r, true)
	if !ok {
		return
	}
	var opts []app.ForkOption
	if req.Input != nil {
		opts = append(opts, app.WithForkInput(req.Input))
	}
	newID, err := h.eng.Fork(r.Context(), id, app.FromStep(*req.FromStep), opts...)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.store.GetExecution(r.Context(), newID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, RepairResponse{ExecutionID: newID, ForkedFrom: id, FromStep: *req.FromStep, State: ex.State})
}

// reset re-runs the failed, timed-out or cancelled {id} from a step
// (app.Engine.Reset): 200; 404 unknown execution; 409 another state
// (the message names it and the allowed ones); 400 a bad step.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, ok := h.readRepair(w, r, false)
	if !ok {
		return
	}
	if err := h.eng.Reset(r.Context(), id, app.FromStep(*req.FromStep)); err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.store.GetExecution(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RepairResponse{ExecutionID: id, FromStep: *req.FromStep, State: ex.State})
}
