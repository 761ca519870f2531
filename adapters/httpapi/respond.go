package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// page reads ?limit= (default 100, at most MaxListLimit) and ?offset=.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
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
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
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
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, ok := h.readBody(w, r)
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
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	code := "internal"
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		code = coded.ErrorCode()
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "http request failed", "method", r.Method, "path", r.URL.Path, "error", err)
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
