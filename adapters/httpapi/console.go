package httpapi

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/stenthq/stent/app"
)

// consoleFiles are the console's page, script and style sheet: plain
// files, no build step (features/053-console.md says why).
//
//go:embed console
var consoleFiles embed.FS

// ConsoleCSP is the Content-Security-Policy of every console response:
// the page loads nothing from anywhere but its own server, runs no inline
// script or style, and may not be framed.
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Console returns the API handler with the web console switched on, for
// mounting in a program's own server, under a prefix if wished:
//
//	mux.Handle("/stent/", http.StripPrefix("/stent", httpapi.Console(eng, httpapi.Options{Token: tok})))
//
// The console's page is served at the mount's root and talks only to the
// JSON API beside it (relative URLs), so one handler serves both.
func Console(eng *app.Engine, o Options) *Handler {
	o.Console = true
	return New(eng, o)
}

// consoleRoutes registers the page, its assets and the session endpoints.
func (h *Handler) consoleRoutes() {
	m := h.mux
	m.HandleFunc("GET /{$}", h.consoleIndex)
	m.HandleFunc("GET /console/assets/{name}", h.consoleAsset)
	m.HandleFunc("GET /console/session", h.consoleSession)
	m.HandleFunc("POST /console/login", h.consoleLogin)
	m.HandleFunc("POST /console/logout", h.consoleLogout)
}

// consoleHeaders are set on every console response.
func consoleHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ConsoleCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (h *Handler) consoleIndex(w http.ResponseWriter, r *http.Request) {
	h.serveConsoleFile(w, r, "index.html")
}

func (h *Handler) consoleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "index.html" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
		writeError(w, http.StatusNotFound, "not_found", "no console asset "+name, nil)
		return
	}
	h.serveConsoleFile(w, r, name)
}

func (h *Handler) serveConsoleFile(w http.ResponseWriter, r *http.Request, name string) {
	body, err := fs.ReadFile(consoleFiles, path.Join("console", name))
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no console asset "+name, nil)
		return
	}
	consoleHeaders(w)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	// The assets change with the binary; revalidate so an upgrade shows at
	// once.
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
