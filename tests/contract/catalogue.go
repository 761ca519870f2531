package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func testCatalogue(t *testing.T, h storeSuite) {
	charge := domain.FunctionInfo{
		Name: "charge", Queue: "payments", Tags: []string{"pci", "eu"}, Priority: 5, MaxConcurrent: 2,
		Version: "v3", RetryPolicy: storePolicy, Idempotent: true, Cached: true,
	}
	audit := domain.FunctionInfo{Name: "audit", Queue: domain.DefaultQueue, RetryPolicy: domain.DefaultRetryPolicy()}

	h.run(t, "an empty catalogue lists nothing", func(t *testing.T, f *fixture) {
		got, err := f.s.ListFunctions(f.ctx)
		f.noErr(err, "ListFunctions")
		f.eq("functions", len(got), 0)
	})

	h.run(t, "the catalogue lists every field ordered by name", func(t *testing.T, f *fixture) {
		f.noErr(f.s.UpsertFunctions(f.ctx, []domain.FunctionInfo{charge, audit}, at(time.Second)), "UpsertFunctions")
		got, err := f.s.ListFunctions(f.ctx)
		f.noErr(err, "ListFunctions")
		if len(got) != 2 {
			t.Fatalf("ListFunctions returned %d entries; want 2", len(got))
		}
		for i, want := range []domain.FunctionInfo{audit, charge} {
			want.LastSeenAt = at(time.Second)
			f.eq(want.Name, mustJSON(got[i]), mustJSON(want))
			f.eqTime(want.Name+" last_seen_at", got[i].LastSeenAt, at(time.Second))
		}
	})

	h.run(t, "upsert replaces an entry by name and stamps last_seen_at", func(t *testing.T, f *fixture) {
		f.noErr(f.s.UpsertFunctions(f.ctx, []domain.FunctionInfo{charge, audit}, at(time.Second)), "UpsertFunctions")
		v4 := charge
		v4.Version, v4.MaxConcurrent, v4.Tags, v4.Idempotent = "v4", 0, nil, false
		f.noErr(f.s.UpsertFunctions(f.ctx, []domain.FunctionInfo{v4}, at(time.Minute)), "UpsertFunctions")
		got, err := f.s.ListFunctions(f.ctx)
		f.noErr(err, "ListFunctions")
		if len(got) != 2 {
			t.Fatalf("ListFunctions returned %d entries; want 2", len(got))
		}
		v4.LastSeenAt = at(time.Minute)
		f.eq("replaced", mustJSON(got[1]), mustJSON(v4))
		f.eqTime("untouched last_seen_at", got[0].LastSeenAt, at(time.Second))
	})
}
