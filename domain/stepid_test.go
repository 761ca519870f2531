package domain_test

import (
	"crypto/sha1"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

var (
	uuidV5Format = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	uuidV4Format = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// referenceUUIDv5 is RFC 9562's name-based SHA-1 UUID, computed here
// independently of the domain package.
func referenceUUIDv5(t *testing.T, namespace, name string) string {
	t.Helper()
	ns, err := hex.DecodeString(strings.ReplaceAll(namespace, "-", ""))
	if err != nil || len(ns) != 16 {
		t.Fatalf("bad namespace %q", namespace)
	}
	sum := sha1.Sum(append(ns, name...))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func TestStepIDIsUUIDv5OfTheParentAndCallNumber(t *testing.T) {
	t.Parallel()
	const exec = "0f8fad5b-d9cb-469f-a165-70867728950e"
	const parent = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	got := domain.StepID(exec, parent, 3)
	if want := referenceUUIDv5(t, exec, parent+"/3"); got != want {
		t.Fatalf("StepID = %s, want UUIDv5(%s, %q) = %s", got, exec, parent+"/3", want)
	}
	// The RFC 9562 example: UUIDv5(DNS namespace, "www.example.com").
	if got := referenceUUIDv5(t, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"); got != "2ed6657d-e927-568b-95e1-2665a8aea6a2" {
		t.Fatalf("reference UUIDv5 is wrong: %s", got)
	}
}

func TestStepIDIsDeterministicAndDistinct(t *testing.T) {
	t.Parallel()
	const exec = "0f8fad5b-d9cb-469f-a165-70867728950e"
	const parent = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	base := domain.StepID(exec, parent, 1)
	tests := []struct {
		name string
		id   string
		same bool
	}{
		{"the same call gets the same id", domain.StepID(exec, parent, 1), true},
		{"another call number gets another id", domain.StepID(exec, parent, 2), false},
		{"another parent gets another id", domain.StepID(exec, "11111111-2222-4333-8444-555555555555", 1), false},
		{"another execution gets another id", domain.StepID("a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6", parent, 1), false},
		{"an upper-case execution id is the same UUID", domain.StepID(strings.ToUpper(exec), parent, 1), true},
		{"a caller-chosen execution id gets another id", domain.StepID("order-42", parent, 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !uuidV5Format.MatchString(tc.id) {
				t.Fatalf("StepID %q is not a UUIDv5", tc.id)
			}
			if (tc.id == base) != tc.same {
				t.Fatalf("StepID %s vs %s: same = %v, want %v", tc.id, base, tc.id == base, tc.same)
			}
		})
	}
}

func TestStepIDWorksForNonUUIDExecutionIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, exec := range []string{"order-42", "order-43", "", "ünïcödé id", "0f8fad5b-d9cb-469f-a165-70867728950", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"} {
		for n := 1; n <= 3; n++ {
			id := domain.StepID(exec, "root", n)
			if !uuidV5Format.MatchString(id) {
				t.Fatalf("StepID(%q, root, %d) = %q, not a UUIDv5", exec, n, id)
			}
			if id != domain.StepID(exec, "root", n) {
				t.Fatalf("StepID(%q, root, %d) is not deterministic", exec, n)
			}
			key := exec + "#" + strconv.Itoa(n)
			if prev, dup := seen[id]; dup {
				t.Fatalf("StepID collision between %s and %s", prev, key)
			}
			seen[id] = key
		}
	}
}

func TestStepIDsAreUniqueAcrossATree(t *testing.T) {
	t.Parallel()
	const exec = "0f8fad5b-d9cb-469f-a165-70867728950e"
	seen := map[string]bool{}
	parents := []string{"root"}
	for depth := 0; depth < 3; depth++ {
		var next []string
		for _, p := range parents {
			for n := 1; n <= 20; n++ {
				id := domain.StepID(exec, p, n)
				if seen[id] {
					t.Fatalf("duplicate step id %s (parent %s, call %d)", id, p, n)
				}
				seen[id] = true
				next = append(next, id)
			}
		}
		parents = next
	}
}

func TestNewIDIsARandomUUIDv4(t *testing.T) {
	t.Parallel()
	const draws = 10000
	seen := make(map[string]bool, draws)
	for range draws {
		id := domain.NewID()
		if !uuidV4Format.MatchString(id) {
			t.Fatalf("NewID() = %q, not a UUIDv4", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %s within %d draws", id, draws)
		}
		seen[id] = true
	}
}

func TestNewTimeIDIsATimeOrderedUUIDv7(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 1000 {
		id := domain.NewTimeID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 36 || id[14] != '7' || !strings.ContainsAny(id[19:20], "89ab") {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if id <= prev {
			t.Fatalf("%q does not sort after %q (a millisecond later)", id, prev)
		}
		prev = id
	}
	if a, b := domain.NewTimeID(base), domain.NewTimeID(base); a == b {
		t.Fatal("two ids in the same millisecond collided")
	}
}
