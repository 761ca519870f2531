package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

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
		writeError(w, http.StatusBadRequest, "invalid_argument", "the request body could not be read (sent too slowly, or cut off)", nil)
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
		writeError(w, http.StatusBadRequest, "invalid_argument", jsonMessage(err), nil)
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
// logged and answered with a generic message. The message is meant for
// people: no wrap chain, no package prefixes, no Go type names (see
// publicMessage).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.failField(w, r, "", err)
}

// failField is fail for an error about one request field: the message
// starts with the field's name.
func (h *Handler) failField(w http.ResponseWriter, r *http.Request, field string, err error) {
	status := StatusOf(err)
	code := "internal"
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		code = coded.ErrorCode()
	}
	msg := publicMessage(err, subjectOf(r))
	if field != "" {
		msg = field + ": " + msg
	}
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

// subjectOf names what the request is about, from its path: a task of an
// execution, an execution, a dead letter or a schedule ("" when none).
func subjectOf(r *http.Request) string {
	if id := r.PathValue("task_id"); id != "" {
		if eid := r.PathValue("id"); eid != "" {
			return fmt.Sprintf("task %q of execution %q", id, eid)
		}
		return fmt.Sprintf("dead letter %q", id)
	}
	if id := r.PathValue("id"); id != "" {
		return fmt.Sprintf("execution %q", id)
	}
	if name := r.PathValue("name"); name != "" && strings.HasPrefix(r.URL.Path, "/v1/schedules/") {
		return fmt.Sprintf("schedule %q", name)
	}
	return ""
}

// publicMessage is err's message for people. The outermost error in the
// chain that carries a code and its own words (an invalid argument naming
// the value, an unregistered function listing the registered ones) is
// used as it is, without the "stent: " prefix; a bare sentinel (not found,
// already finished) is said about subject: `execution "x" not found`.
// The wrappers' text ("state of execution ...: sqlitestore: ...") and Go
// type names never reach the caller.
func publicMessage(err error, subject string) string {
	var sentinel *domain.Sentinel
	var msg string
	walk(err, func(e error) bool {
		if s, ok := e.(*domain.Sentinel); ok {
			if sentinel == nil {
				sentinel = s
			}
			return true
		}
		if _, ok := e.(interface{ ErrorCode() string }); ok {
			msg = e.Error()
			return false
		}
		return true
	})
	switch {
	case msg != "":
	case sentinel == domain.ErrNotFound && subject != "":
		return subject + " not found"
	case sentinel != nil && subject != "":
		msg = subject + ": " + sentinel.Error()
	case sentinel != nil:
		msg = sentinel.Error()
	default:
		msg = err.Error()
	}
	return strings.ReplaceAll(msg, "stent: ", "")
}

// walk visits err's chain outermost first, depth first through joined
// errors, until visit returns false.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return true
	}
	if !visit(err) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walk(e, visit) {
				return false
			}
		}
	}
	return true
}

// jsonMessage says what is wrong with a request body that did not decode,
// in words: the field and the kind of value it wants, never a Go type.
func jsonMessage(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tm *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Sprintf("the request body must be %s, not %s", kindWord(typ.Type), typ.Value)
		}
		return fmt.Sprintf("%q must be %s, not %s", field, kindWord(typ.Type), typ.Value)
	case errors.As(err, &tm):
		return fmt.Sprintf("%q is not a time; want RFC 3339, e.g. 2030-01-02T15:04:05Z", tm.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the request body is not valid JSON (it ends early)"
	}
	return "the request body does not fit this call: " + strings.TrimPrefix(err.Error(), "json: ")
}

// kindWord names the JSON value a Go type takes.
func kindWord(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
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
