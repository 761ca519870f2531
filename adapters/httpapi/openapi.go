package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument is the OpenAPI 3.1 description of every route New
// serves, served at GET /v1/openapi.json. A route added to the handler
// must be added here too (TestOpenAPIDocumentsEveryRoute names the ones
// that are not).
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document (JSON) of the API; the caller
// must not modify it.
func OpenAPI() []byte { return openAPIDocument }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}

// routeMux is an http.ServeMux that records the pattern of every route
// registered on it, so the served routes can be listed (Routes) and
// checked against the OpenAPI document.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// Handle registers handler for pattern and records the pattern.
func (m *routeMux) Handle(pattern string, handler http.Handler) {
	m.ServeMux.Handle(pattern, handler)
	m.patterns = append(m.patterns, pattern)
}

// HandleFunc registers fn for pattern and records the pattern.
func (m *routeMux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(fn))
}

// Routes lists the pattern of every route the handler serves
// ("GET /v1/executions/{id}", as given to http.ServeMux), sorted.
func (h *Handler) Routes() []string {
	out := slices.Clone(h.mux.patterns)
	slices.Sort(out)
	return out
}
