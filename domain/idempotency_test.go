package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"object keys are sorted and whitespace dropped", "{ \"b\" : 1 ,\n\t\"a\" : [ 1 , 2 ] }", `{"a":[1,2],"b":1}`},
		{"nested objects are sorted too", `{"z":{"y":1,"x":{"d":null,"c":true}},"a":false}`, `{"a":false,"z":{"x":{"c":true,"d":null},"y":1}}`},
		{"keys sort bytewise", `{"b":1,"B":2,"a":3,"é":4}`, `{"B":2,"a":3,"b":1,"é":4}`},
		{"numbers are kept verbatim", `[1.0, 1e3, -0, 12345678901234567890, 0.1000]`, `[1.0,1e3,-0,12345678901234567890,0.1000]`},
		{"HTML characters are not escaped", `"<a&b>"`, `"<a&b>"`},
		{"escaped and raw unicode are the same", `"\u00e9\u0041"`, `"éA"`},
		{"a duplicate key keeps the last value", `{"a":1,"a":2}`, `{"a":2}`},
		{"scalars pass through", ` null `, `null`},
		{"empty containers stay empty", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CanonicalJSON([]byte(tc.in))
			if err != nil {
				t.Fatalf("CanonicalJSON(%s) error: %v", tc.in, err)
			}
			if string(got) != tc.want {
				t.Fatalf("CanonicalJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
			again, err := domain.CanonicalJSON(got)
			if err != nil || string(again) != string(got) {
				t.Fatalf("CanonicalJSON is not idempotent: %s -> %s, %v", got, again, err)
			}
		})
	}
}

func TestCanonicalJSONRejectsInvalidDocuments(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", " ", "{", `{"a":}`, `{"a":1,}`, `[1 2]`, `1 2`, `{"a":1}{"b":2}`, `'a'`, `nul`, `{a:1}`} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CanonicalJSON([]byte(in))
			if err == nil {
				t.Fatalf("CanonicalJSON(%q) = %s, want an error", in, got)
			}
			if !strings.HasPrefix(err.Error(), "stent: canonical json: ") {
				t.Errorf("error %q lacks the prefix %q", err, "stent: canonical json: ")
			}
			if _, err := domain.IdempotencyKey("f", "", []byte(in)); err == nil && in != "" {
				t.Errorf("IdempotencyKey accepted invalid JSON %q", in)
			}
		})
	}
}

func TestIdempotencyKeyGoldenVector(t *testing.T) {
	t.Parallel()
	// The documented layout: hex SHA-256 of
	// "stent/v1" 0 name 0 version 0 canonicalJSON(input).
	canonical := `{"amount":1250,"card":{"exp":"12/30","last4":"4242"},"currency":"EUR"}`
	layout := "stent/v1\x00charge\x00v2\x00" + canonical
	sum := sha256.Sum256([]byte(layout))
	independent := hex.EncodeToString(sum[:])
	// Frozen (computed with sha256sum(1) over the same bytes): changing it
	// would orphan every stored key.
	const golden = "f5120bc84d0dc0fb18e0926988e06bbf9f821d2563513e5bd02d1cfdbd771586"

	input := "{\n  \"currency\": \"EUR\",\n  \"card\": {\"exp\": \"12/30\", \"last4\": \"4242\"},\n  \"amount\": 1250\n}"
	got, err := domain.IdempotencyKey("charge", "v2", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	if got != independent {
		t.Fatalf("IdempotencyKey = %s, want sha256 of the documented layout %s", got, independent)
	}
	if got != golden {
		t.Fatalf("IdempotencyKey = %s, want the golden %s", got, golden)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	key := func(name, version, input string) string {
		t.Helper()
		k, err := domain.IdempotencyKey(name, version, []byte(input))
		if err != nil {
			t.Fatalf("IdempotencyKey(%q, %q, %s): %v", name, version, input, err)
		}
		if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Fatalf("IdempotencyKey = %q, want 64 lower-case hex digits", k)
		}
		return k
	}
	base := key("charge", "", `{"a":1,"b":[1,2]}`)
	tests := []struct {
		name string
		key  string
		same bool
	}{
		{"key order does not change the key", key("charge", "", `{"b":[1,2],"a":1}`), true},
		{"whitespace does not change the key", key("charge", "", " {\n\"a\" : 1, \"b\" : [ 1, 2 ] }\n"), true},
		{"array order changes the key", key("charge", "", `{"a":1,"b":[2,1]}`), false},
		{"a number written differently changes the key", key("charge", "", `{"a":1.0,"b":[1,2]}`), false},
		{"another function name changes the key", key("refund", "", `{"a":1,"b":[1,2]}`), false},
		{"another version changes the key", key("charge", "v2", `{"a":1,"b":[1,2]}`), false},
		{"name and version cannot bleed into each other", key("charg", "e", `{"a":1,"b":[1,2]}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.key == base) != tc.same {
				t.Fatalf("key %s vs base %s: same = %v, want %v", tc.key, base, tc.key == base, tc.same)
			}
		})
	}
	t.Run("empty input is keyed as null", func(t *testing.T) {
		if key("f", "", "") != key("f", "", "null") {
			t.Fatal("empty input and null give different keys")
		}
	})
	t.Run("falsey inputs have distinct keys", func(t *testing.T) {
		seen := map[string]string{}
		for _, in := range []string{"null", "0", "false", `""`, "[]", "{}"} {
			k := key("f", "", in)
			if prev, dup := seen[k]; dup {
				t.Fatalf("inputs %s and %s share a key", prev, in)
			}
			seen[k] = in
		}
	})
	t.Run("invalid input is an error", func(t *testing.T) {
		_, err := domain.IdempotencyKey("f", "", []byte(`{"a":`))
		if err == nil {
			t.Fatal("IdempotencyKey accepted truncated JSON")
		}
		var target interface{ Unwrap() error }
		if !errors.As(err, &target) {
			t.Errorf("error %v does not wrap the decoder's error", err)
		}
	})
}

func TestScopedKey(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("stent/v1/user\x00charge\x00order-42"))
	if got, want := domain.ScopedKey("charge", "order-42"), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("ScopedKey = %s, want %s", got, want)
	}
	if domain.ScopedKey("charge", "k") == domain.ScopedKey("refund", "k") {
		t.Fatal("two functions share a scoped key")
	}
	if domain.ScopedKey("charge", "k") == domain.ScopedKey("charge", "k2") {
		t.Fatal("two keys share a scoped key")
	}
}
