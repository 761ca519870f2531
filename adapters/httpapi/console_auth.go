package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The console's session: after a login with the API token the browser
// holds a signed cookie instead of the token. The cookie is HttpOnly (no
// script reads it) and SameSite=Strict (no other site's page sends it);
// a state-changing API request authenticated by it must also carry
// CSRFHeader with the token GET /console/session hands to the page.
// Bearer-token clients are unaffected.
const (
	// SessionCookie is the console session cookie's name.
	SessionCookie = "stent_session"
	// CSRFHeader carries the console's CSRF token on POST and DELETE.
	CSRFHeader = "X-Stent-CSRF"
	// SessionTTL is how long a console login lasts.
	SessionTTL = 12 * time.Hour
)

// sessionKey derives the signing key from the API token: every stentd
// sharing a token accepts the others' sessions (a load balancer needs no
// stickiness), and changing the token ends every session.
func (h *Handler) sessionKey() []byte {
	m := hmac.New(sha256.New, []byte(h.o.Token))
	m.Write([]byte("stent console session key v1"))
	return m.Sum(nil)
}

func (h *Handler) sign(parts ...string) string {
	m := hmac.New(sha256.New, h.sessionKey())
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession mints a cookie value: expiry.nonce.mac.
func (h *Handler) newSession(now time.Time) string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	exp := strconv.FormatInt(now.Add(SessionTTL).Unix(), 10)
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	return exp + "." + nonce + "." + h.sign("session", exp, nonce)
}

// session checks r's session cookie and returns its nonce ("" when there
// is no valid session).
func (h *Handler) session(r *http.Request) string {
	if h.o.Token == "" {
		return ""
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return ""
	}
	exp, nonce, mac := parts[0], parts[1], parts[2]
	if !hmac.Equal([]byte(mac), []byte(h.sign("session", exp, nonce))) {
		return ""
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() >= unix {
		return ""
	}
	return nonce
}

// csrfToken is the CSRF token of the session with this nonce.
func (h *Handler) csrfToken(nonce string) string { return h.sign("csrf", nonce) }

// bearer reports whether r carries the right bearer token.
func (h *Handler) bearer(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.o.Token)) == 1
}

// authStatus is how a request to /v1 stands.
type authStatus int

const (
	authOK          authStatus = iota
	authMissing                // 401: no token, no session
	authCSRFMissing            // 403: a session, but a state-changing request without the CSRF token
)

func (h *Handler) authenticate(r *http.Request) authStatus {
	if h.o.Token == "" || h.bearer(r) {
		return authOK
	}
	nonce := h.session(r)
	if nonce == "" {
		return authMissing
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return authOK
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || !hmac.Equal([]byte(got), []byte(h.csrfToken(nonce))) {
		return authCSRFMissing
	}
	return authOK
}

// SessionReport is the body of GET /console/session and of a login.
type SessionReport struct {
	// AuthRequired is false when the server has no token (the console
	// then needs no login).
	AuthRequired  bool   `json:"auth_required"`
	Authenticated bool   `json:"authenticated"`
	CSRF          string `json:"csrf,omitempty"`
}

func (h *Handler) sessionReport(nonce string) SessionReport {
	rep := SessionReport{AuthRequired: h.o.Token != "", Authenticated: h.o.Token == "" || nonce != ""}
	if nonce != "" {
		rep.CSRF = h.csrfToken(nonce)
	}
	return rep
}

func (h *Handler) consoleSession(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, h.sessionReport(h.session(r)))
}

// cookiePath is the console's mount point as the browser sees it, so the
// cookie goes back to the page and the API beside it only (also when the
// handler is mounted under a prefix with http.StripPrefix).
func cookiePath(r *http.Request, routePath string) string {
	orig := r.RequestURI
	if i := strings.IndexAny(orig, "?#"); i >= 0 {
		orig = orig[:i]
	}
	if prefix, ok := strings.CutSuffix(orig, routePath); ok && strings.HasPrefix(prefix, "/") {
		return prefix + "/"
	}
	return "/"
}

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// consoleLogin checks the posted token (form field "token") and sets the
// session cookie.
func (h *Handler) consoleLogin(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "login: post the token as a form field \"token\" (application/x-www-form-urlencoded)", nil)
		return
	}
	if h.o.Token == "" {
		writeJSON(w, http.StatusOK, h.sessionReport(""))
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if subtle.ConstantTimeCompare([]byte(tok), []byte(h.o.Token)) != 1 {
		h.log.WarnContext(r.Context(), "console login refused", "remote_addr", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong token: paste the server's STENT_HTTP_TOKEN", nil)
		return
	}
	val := h.newSession(time.Now())
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: val, Path: cookiePath(r, "/console/login"),
		MaxAge: int(SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
	writeJSON(w, http.StatusOK, h.sessionReport(strings.Split(val, ".")[1]))
}

// consoleLogout clears the session cookie.
func (h *Handler) consoleLogout(w http.ResponseWriter, r *http.Request) {
	consoleHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: cookiePath(r, "/console/logout"),
		MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r)})
	writeJSON(w, http.StatusOK, SessionReport{AuthRequired: h.o.Token != ""})
}
