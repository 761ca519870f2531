package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// falsey are the values a presence check must treat as hits.
var falsey = []string{`0`, `false`, `""`, `[]`, `{}`, `null`}

// cachedCall creates call pos of a new running execution to fn with a
// cache key, at now.
func (f *fixture) cachedCall(fn, key string, now time.Time) domain.Task {
	f.t.Helper()
	_, root := f.start(execOpts{CreatedAt: now})
	s := activitySpec(root, 1, fn)
	s.CacheKey = key
	return f.steps(root, now, s)[0]
}

func testCache(t *testing.T, h storeSuite) {
	for _, v := range falsey {
		h.run(t, "a cached "+v+" is a hit", func(t *testing.T, f *fixture) {
			first := f.cachedCall("cached", "key", at(time.Second))
			f.eq("first call state", first.State, domain.TaskPending)
			f.complete(f.claimID(at(time.Second), first.ID), v, at(2*time.Second))

			got, err := f.insp.GetCacheEntries(f.ctx, []string{"key", "missing"}, at(time.Hour))
			f.noErr(err, "GetCacheEntries")
			f.eq("entries", len(got), 1)
			f.eqRaw("cached value", got["key"], js(v))

			second := f.cachedCall("cached", "key", at(time.Minute))
			f.eq("second call state", second.State, domain.TaskCompleted)
			f.eqRaw("second call result", second.Result, js(v))
			f.eqTimePtr("second call finished_at", second.FinishedAt, ptrTo(at(time.Minute)))
			f.eq("claimable", len(f.claimFns(at(time.Hour), "cached")), 0)
		})
	}

	h.run(t, "a cache entry expires at expires_at", func(t *testing.T, f *fixture) {
		first := f.cachedCall("cached", "key", at(time.Second))
		expires := at(10 * time.Second)
		c := f.claimID(at(time.Second), first.ID)
		f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: c.Fence(), Result: js(`42`), CacheExpiresAt: &expires, Now: at(2 * time.Second)}), "CompleteTask")

		got, err := f.insp.GetCacheEntries(f.ctx, []string{"key"}, expires.Add(-time.Microsecond))
		f.noErr(err, "GetCacheEntries")
		f.eqRaw("1 µs before expiry", got["key"], js(`42`))
		got, err = f.insp.GetCacheEntries(f.ctx, []string{"key"}, expires)
		f.noErr(err, "GetCacheEntries")
		f.eq("entries at expiry", len(got), 0)

		hit := f.cachedCall("cached", "key", expires.Add(-time.Microsecond))
		f.eq("call 1 µs before expiry", hit.State, domain.TaskCompleted)
		miss := f.cachedCall("cached", "key", expires)
		f.eq("call at expiry", miss.State, domain.TaskPending)
		f.eq("cache key kept on the missed call", miss.CacheKey, "key")
	})

	h.run(t, "a cache entry without expiry never expires", func(t *testing.T, f *fixture) {
		first := f.cachedCall("cached", "key", at(time.Second))
		f.complete(f.claimID(at(time.Second), first.ID), `"forever"`, at(2*time.Second))
		later := at(100 * 365 * 24 * time.Hour)
		got, err := f.insp.GetCacheEntries(f.ctx, []string{"key"}, later)
		f.noErr(err, "GetCacheEntries")
		f.eqRaw("a century later", got["key"], js(`"forever"`))
	})

	h.run(t, "a later completion replaces the cache entry", func(t *testing.T, f *fixture) {
		a := f.cachedCall("cached-a", "key", at(time.Second))
		b := f.cachedCall("cached-b", "key", at(time.Second))
		ca, cb := f.claimID(at(time.Second), a.ID), f.claimID(at(time.Second), b.ID)
		f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: ca.Fence(), Result: js(`"a"`), CacheExpiresAt: ptrTo(at(time.Minute)), Now: at(2 * time.Second)}), "CompleteTask a")
		f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: cb.Fence(), Result: js(`"b"`), Now: at(3 * time.Second)}), "CompleteTask b")
		got, err := f.insp.GetCacheEntries(f.ctx, []string{"key"}, at(time.Hour))
		f.noErr(err, "GetCacheEntries")
		f.eqRaw("entry", got["key"], js(`"b"`))
	})

	h.run(t, "lookups return present keys only", func(t *testing.T, f *fixture) {
		got, err := f.insp.GetCacheEntries(f.ctx, []string{"a", "b"}, epoch)
		f.noErr(err, "GetCacheEntries")
		f.eq("cache entries", len(got), 0)
		got, err = f.insp.GetCacheEntries(f.ctx, nil, epoch)
		f.noErr(err, "GetCacheEntries(nil)")
		f.eq("cache entries for no keys", len(got), 0)
		recs, err := f.insp.GetIdempotencyRecords(f.ctx, []string{"a", "b"})
		f.noErr(err, "GetIdempotencyRecords")
		f.eq("idempotency records", len(recs), 0)
		recs, err = f.insp.GetIdempotencyRecords(f.ctx, nil)
		f.noErr(err, "GetIdempotencyRecords(nil)")
		f.eq("idempotency records for no keys", len(recs), 0)
	})
}
