package sqlstore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestMigrationsAreContiguousForEveryDialect(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		ms, err := Migrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", d)
		}
		for i, m := range ms {
			if m.Version != i+1 || m.Name == "" || !strings.Contains(m.SQL, "CREATE") && i == 0 {
				t.Errorf("%s: migration %d = version %d %q", d, i, m.Version, m.Name)
			}
		}
	}
}

func TestRebindDollarNumbersPlaceholdersInOrder(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"SELECT 1":                          "SELECT 1",
		"a = ? AND b = ANY(?::text[])":      "a = $1 AND b = ANY($2::text[])",
		"INSERT INTO t VALUES (?, ?, ?, ?)": "INSERT INTO t VALUES ($1, $2, $3, $4)",
	}
	for in, want := range cases {
		if got := RebindDollar(in); got != want {
			t.Errorf("RebindDollar(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestStoredPoliciesKeepEveryField guards the remembered policy forms
// (storedPolicy, policyJSON): two policies that differ in any one scalar
// field must not share a cache entry.
func TestStoredPoliciesKeepEveryField(t *testing.T) {
	t.Parallel()
	base := domain.DefaultRetryPolicy()
	baseText, err := policyJSON(base)
	if err != nil {
		t.Fatal(err)
	}
	_ = storedPolicy(base) // remember the base form first
	fields := reflect.TypeFor[domain.RetryPolicy]()
	for i := range fields.NumField() {
		p := base
		f := reflect.ValueOf(&p).Elem().Field(i)
		switch {
		case f.Type() == reflect.TypeFor[time.Duration]():
			f.SetInt(f.Int() + int64(time.Millisecond))
		case f.CanInt():
			f.SetInt(f.Int() + 7)
		case f.CanFloat():
			f.SetFloat(f.Float() + 0.25)
		default:
			continue // policies with lists are never remembered
		}
		name := fields.Field(i).Name
		if got := storedPolicy(p); !reflect.DeepEqual(got, p) {
			t.Errorf("%s changed: storedPolicy = %+v; want %+v", name, got, p)
		}
		text, err := policyJSON(p)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.RetryPolicy
		if err := json.Unmarshal([]byte(text), &back); err != nil || !reflect.DeepEqual(back, p) || text == baseText {
			t.Errorf("%s changed: policyJSON = %s (%v); want the JSON of %+v", name, text, err, p)
		}
	}
}
