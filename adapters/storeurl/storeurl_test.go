package storeurl_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/domain"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]storeurl.Backend{
		"postgres://u:p@h/db":                              storeurl.Postgres,
		"postgresql://h/db":                                storeurl.Postgres,
		"  postgres://h/db  ":                              storeurl.Postgres,
		"host=127.0.0.1 user=postgres password=x dbname=y": storeurl.Postgres,
		"dbname=stent":                                     storeurl.Postgres,
		"host = db port=5432":                              storeurl.Postgres,
		"sqlite://stent.sqlite":                            storeurl.SQLite,
		"sqlite:stent.sqlite":                              storeurl.SQLite,
		"stent.sqlite":                                     storeurl.SQLite,
		"/var/lib/stent/db.sqlite":                         storeurl.SQLite,
		"./host=x.sqlite":                                  storeurl.SQLite,
		"data/a=b.sqlite":                                  storeurl.SQLite,
		"./my-postgres://x.sqlite":                         storeurl.SQLite, // never matched by substring
	} {
		got, err := storeurl.Parse(raw)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

func TestParseRejectsWhatItCannotOpen(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ raw, naming string }{
		{"", "empty"},
		{"  ", "empty"},
		{"mysql://bob:s3cret@h/db", `"mysql://bob:xxxxx@h/db": scheme "mysql" is not supported`},
		{"redis://h", `scheme "redis" is not supported`},
		{"postgres:bob:s3cret@h/db", `"postgres:"... lacks the //`},
	} {
		_, err := storeurl.Parse(c.raw)
		if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), c.naming) {
			t.Errorf("Parse(%q) = %v; want ErrInvalidArgument naming %s", c.raw, err, c.naming)
			continue
		}
		if !strings.Contains(err.Error(), "key=value DSN") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) = %v; want what is allowed, without the password", c.raw, err)
		}
	}
}

func TestMaskHidesThePassword(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"postgres://bob:s3cret@db:5432/x":             "postgres://bob:xxxxx@db:5432/x",
		"host=db user=bob password=s3cret dbname=x":   "host=db user=bob password=xxxxx dbname=x",
		"host=db password='s3 cret' dbname=x":         "host=db password=xxxxx dbname=x",
		"postgresql://db/x?password=s3cret":           "postgresql://db/x?password=xxxxx",
		"mysql://bob:s3cret@h/db":                     "mysql://bob:xxxxx@h/db",
		"sqlite://stent.sqlite?mode=ro":               "sqlite://stent.sqlite?mode=ro",
		"/var/lib/stent/password=s3cret/stent.sqlite": "/var/lib/stent/password=s3cret/stent.sqlite",
		"postgres://bob@db/x":                         "postgres://bob@db/x",
	} {
		if got := storeurl.Mask(raw); got != want {
			t.Errorf("Mask(%q) = %q; want %q", raw, got, want)
		}
	}
}

func TestScrubRemovesThePasswordFromAMessage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ raw, msg string }{
		{"postgres://bob:s3cret@db/x", "auth failed for s3cret"},
		{"postgres://bob:s3%2Fcret@db/x", "auth failed for s3/cret and s3%2Fcret"},
		{"host=db user=bob password='s3 cret' dbname=x", "auth failed for s3 cret"},
		{"mysql://bob:s3cret@h/db", "s3cret"},
	} {
		if got := storeurl.Scrub(c.msg, c.raw); strings.Contains(got, "s3") {
			t.Errorf("Scrub(%q, %q) = %q; the password is still there", c.msg, c.raw, got)
		}
	}
	if got := storeurl.Scrub("stent.sqlite is locked", "stent.sqlite"); got != "stent.sqlite is locked" {
		t.Errorf("Scrub changed a message about a SQLite file: %q", got)
	}
}

func TestSchemaOf(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"postgres://h/db?search_path=tenant_a":           "tenant_a",
		"postgres://h/db?search_path=%22Mixed%22,public": "Mixed",
		"postgres://h/db?search_path=$user,public":       "",
		"postgres://h/db":                                "",
		"host=h dbname=db search_path=kv_schema":         "kv_schema",
		"stent.sqlite":                                   "",
	} {
		if got := storeurl.SchemaOf(raw); got != want {
			t.Errorf("SchemaOf(%q) = %q; want %q", raw, got, want)
		}
	}
}

func TestSQLitePath(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"stent.sqlite":                       "stent.sqlite",
		"sqlite://data/stent.sqlite?mode=ro": "data/stent.sqlite",
		"sqlite:///abs/stent.sqlite":         "/abs/stent.sqlite",
	} {
		if got, err := storeurl.SQLitePath(raw); err != nil || got != want {
			t.Errorf("SQLitePath(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, err := storeurl.SQLitePath("sqlite://x?mode=fast"); !errors.Is(err, domain.ErrInvalidArgument) {
		t.Errorf("SQLitePath of a bad option = %v; want ErrInvalidArgument", err)
	}
}

// secretDSNs carry the password "Pa ss'w\rd" (or a URL-safe one) in every
// form an operator may write it.
var secretDSNs = []struct{ dsn, password string }{
	{"postgres://bob:S3cretPW@db:5432/x?sslmode=disable", "S3cretPW"},
	{"postgres://bob:S3cret%20PW%2F@db/x", "S3cret PW/"},
	{"postgresql://db/x?user=bob&password=S3cretPW", "S3cretPW"},
	{"host=db user=bob password=S3cretPW dbname=x", "S3cretPW"},
	{"host=db user=bob password = S3cretPW dbname=x", "S3cretPW"},
	{`host=db user=bob password='S3cret PW' dbname=x`, "S3cret PW"},
	{`host=db user=bob password='S3cret\'s PW' dbname=x`, `S3cret's PW`},
	{`host=db user=bob password=S3cret\ PWord dbname=x`, `S3cret PWord`},
	{`password=S3cretPW host=db`, "S3cretPW"},
}

func TestMaskHidesEveryFormOfPasswordAndAgreesWithPgxstore(t *testing.T) {
	t.Parallel()
	for _, c := range secretDSNs {
		got := storeurl.Mask(c.dsn)
		for _, part := range strings.Fields(strings.ReplaceAll(c.password, "'", " ")) {
			if len(part) < 3 {
				continue
			}
			if strings.Contains(got, part) || strings.Contains(got, url.QueryEscape(part)) {
				t.Errorf("Mask(%q) = %q: still shows %q", c.dsn, got, part)
			}
		}
		if pg := pgxstore.MaskDSN(c.dsn); pg != got {
			t.Errorf("storeurl.Mask(%q) = %q but pgxstore.MaskDSN = %q", c.dsn, got, pg)
		}
		if b, err := storeurl.Parse(c.dsn); err != nil || b != storeurl.Postgres {
			t.Errorf("Parse(%q) = %q, %v; want postgres", c.dsn, b, err)
		}
		if msg := storeurl.Scrub("auth failed for "+c.password, c.dsn); strings.Contains(msg, c.password) {
			t.Errorf("Scrub with %q left the password: %q", c.dsn, msg)
		}
	}
}

func TestAMalformedPostgresDSNIsAnInvalidArgumentWithoutThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://bob:S3cretPW@db:notaport/x",
		"host=db port=notaport user=bob password=S3cretPW dbname=x",
		`host=db port=notaport password='S3cret PW' dbname=x`,
		"host=db password='S3cretPW dbname=x",
	} {
		_, err := storeurl.Parse(dsn)
		if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), "malformed PostgreSQL DSN") {
			t.Errorf("Parse(%q) = %v; want a malformed-DSN ErrInvalidArgument", dsn, err)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) = %q: want one line without the password", dsn, err)
		}
	}
}
