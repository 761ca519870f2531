// Package storeurl opens a Stent store from the text an operator writes
// (STENT_DB, --db): a SQLite file path or sqlite:// URL, a postgres://
// URL, or a PostgreSQL key=value DSN such as
// `host=db user=stent password=x dbname=stent`. It says which backend a
// value selects (Parse), hides its password for logs (Mask, Scrub), opens
// the store (Open, eagerly or lazily) and readies a lazy one with retries
// (Connect).
//
// The CLI and the service share it. It composes the two SQL store adapters
// and links nothing else: no HTTP, no fx, no notifier.
package storeurl

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/domain"
)

// Default is the embedded default: a SQLite file in the working
// directory.
const Default = "stent.sqlite"

// Backend is the kind of store a value selects.
type Backend string

// Backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// allowed tells what a store URL may be, for error messages.
const allowed = "want a SQLite file path, sqlite://path, a postgres:// URL " +
	"or a PostgreSQL key=value DSN (host=... user=... dbname=...)"

// Parse says which backend raw selects:
//
//   - postgres:// or postgresql:// is PostgreSQL;
//   - a key=value DSN is PostgreSQL: its first word is a keyword and an
//     equals sign, as in `host=db user=stent dbname=stent` (a SQLite file
//     whose name starts like that is written ./host=x or sqlite://host=x);
//   - sqlite://path, sqlite:path or any other path is SQLite.
//
// An empty value, another scheme (mysql://, redis://) or postgres: without
// the two slashes is an ErrInvalidArgument naming the value (password
// masked) and what is allowed. The value is never matched by substring.
//
// A PostgreSQL value must also parse as a connection string (a port
// "notaport", an unknown key=value keyword, an unterminated quote are
// ErrInvalidArgument, password masked), so a malformed DSN is a
// configuration error at start-up, not a failure deep in the service.
func Parse(raw string) (Backend, error) {
	b, err := classify(raw)
	if err != nil || b != Postgres {
		return b, err
	}
	v := strings.TrimSpace(raw)
	if _, err := pgx.ParseConfig(v); err != nil {
		reason := err.Error()
		if i := strings.LastIndex(reason, "`: "); i >= 0 {
			reason = reason[i+3:]
		}
		return "", domain.InvalidArgument("malformed PostgreSQL DSN %q: %s", Mask(v), Scrub(reason, v))
	}
	return Postgres, nil
}

// classify is Parse without checking that a PostgreSQL value parses.
func classify(raw string) (Backend, error) {
	v := strings.TrimSpace(raw)
	switch {
	case v == "":
		return "", domain.InvalidArgument("the store URL is empty; %s", allowed)
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return Postgres, nil
	case strings.HasPrefix(v, "sqlite://"), strings.HasPrefix(v, "sqlite:"):
		return SQLite, nil
	case isKeyValue(v):
		return Postgres, nil
	case strings.HasPrefix(v, "postgres:"), strings.HasPrefix(v, "postgresql:"):
		scheme, _, _ := strings.Cut(v, ":")
		return "", domain.InvalidArgument("store URL %q... lacks the // after the scheme: a PostgreSQL URL starts with postgres://; %s", scheme+":", allowed)
	}
	if i := strings.Index(v, "://"); i > 0 && !strings.ContainsAny(v[:i], `/\.`) {
		return "", domain.InvalidArgument("store URL %q: scheme %q is not supported; %s", pgxstore.MaskDSN(v), v[:i], allowed)
	}
	return SQLite, nil
}

// isKeyValue reports a PostgreSQL key=value DSN: the first word is a
// keyword (letters, digits, underscores, starting with a letter) followed
// by "=".
func isKeyValue(v string) bool {
	key, _, ok := strings.Cut(v, "=")
	if !ok {
		return false
	}
	key = strings.TrimSpace(key)
	if key == "" || !isLetter(key[0]) {
		return false
	}
	for i := range len(key) {
		if c := key[i]; !isLetter(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Mask returns raw with any password replaced by "xxxxx", for logs and
// messages: the userinfo password or password query parameter of a URL
// and the password= of a key=value DSN. It masks values Parse rejects too
// (mysql://bob:pw@h carries a password as well); SQLite paths come back as
// they are.
func Mask(raw string) string {
	if b, err := classify(raw); err == nil && b == SQLite {
		return raw
	}
	return pgxstore.MaskDSN(raw)
}

// Scrub replaces the password of raw wherever it appears in msg (a driver
// message may quote the DSN, or the password alone).
func Scrub(msg, raw string) string {
	pw := password(raw)
	if pw == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, pw, "xxxxx")
	if esc := url.QueryEscape(pw); esc != pw {
		msg = strings.ReplaceAll(msg, esc, "xxxxx")
	}
	return msg
}

// password returns the password raw carries, "" if none.
func password(raw string) string {
	v := strings.TrimSpace(raw)
	if b, err := classify(v); err == nil && b == Postgres {
		if cfg, err := pgx.ParseConfig(v); err == nil {
			return cfg.Password
		}
		if m := kvPassword.FindStringSubmatch(v); m != nil {
			return unquoteKV(m[1])
		}
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	return ""
}

// SchemaOf returns the schema a PostgreSQL value selects with its
// search_path parameter: the first entry, unquoted ("" when there is none,
// or when it is a variable such as $user). pgx also sends the parameter to
// the server, so the store and unqualified SQL see the same schema.
func SchemaOf(raw string) string {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(cfg.RuntimeParams["search_path"], ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	if strings.HasPrefix(first, "$") {
		return ""
	}
	return first
}

// SQLitePath returns the file a SQLite value names: the path of a
// sqlite:// URL (ErrInvalidArgument when malformed), else the value.
func SQLitePath(raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if strings.HasPrefix(v, "sqlite:") {
		cfg, err := sqlitestore.ParseDSN(v)
		if err != nil {
			return "", err
		}
		return cfg.Path, nil
	}
	return v, nil
}

// kvPassword finds the password of a key=value DSN, quoted or not.
var kvPassword = regexp.MustCompile(`(?i)(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)*)`)

// unquoteKV undoes a key=value DSN's quoting: surrounding single quotes
// and backslash escapes.
func unquoteKV(v string) string {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
