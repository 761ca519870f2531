package contract

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// deadLetterAt fails a fresh child task terminally at moved and returns
// its task id (the dead letter's key).
func (f *fixture) deadLetterAt(moved time.Time) string {
	f.t.Helper()
	_, root := f.start(execOpts{})
	rec := f.steps(root, at(time.Second), activitySpec(root, 1, "dl-"+domain.NewID()[:8]))[0]
	c := f.claimID(at(time.Second), rec.ID)
	f.fail(c, "boom", moved)
	return rec.ID
}

// keysetWalk pages through a list with After keysets, calling between
// pages (after page n) so the test can insert rows, and returns every key
// seen in order.
func keysetWalk(f *fixture, what string, limit int, list func(after *ports.Keyset) ([]ports.Keyset, error),
	between func(page int)) []ports.Keyset {
	f.t.Helper()
	var all []ports.Keyset
	var after *ports.Keyset
	for page := 0; ; page++ {
		if page > 100 {
			f.t.Fatalf("%s: %s: more than 100 pages; the keyset does not advance", f.name, what)
		}
		got, err := list(after)
		f.noErr(err, what)
		if len(got) > limit {
			f.t.Fatalf("%s: %s: page %d has %d rows; want at most %d", f.name, what, page, len(got), limit)
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		last := got[len(got)-1]
		after = &last
		if between != nil {
			between(page)
		}
	}
}

// checkKeysetPages fails unless keys are strictly newest first (time desc,
// id desc: no row repeated, a stable order for equal times) and hold every
// id of want.
func checkKeysetPages(f *fixture, what string, keys []ports.Keyset, want []string) {
	f.t.Helper()
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k.ID] {
			f.t.Errorf("%s: %s: row %s repeated across pages", f.name, what, k.ID)
		}
		seen[k.ID] = true
		if i > 0 {
			p := keys[i-1]
			c := k.At.Compare(p.At)
			if c > 0 || c == 0 && k.ID >= p.ID {
				f.t.Errorf("%s: %s: row %s (%s) follows %s (%s); want time desc, then id desc",
					f.name, what, k.ID, k.At.Format(time.RFC3339Nano), p.ID, p.At.Format(time.RFC3339Nano))
			}
		}
	}
	for _, id := range want {
		if !seen[id] {
			f.t.Errorf("%s: %s: row %s skipped by the pages", f.name, what, id)
		}
	}
}

func testKeysetPages(t *testing.T, h storeSuite) {
	h.run(t, "executions page by keyset in a stable order with equal created_at, skipping and repeating nothing while rows are inserted", func(t *testing.T, f *fixture) {
		var want []string
		// 12 executions over 4 instants, 3 per instant: ties broken by id.
		for i := range 12 {
			e, _ := f.create(execOpts{ID: uuidN(100 + i), CreatedAt: at(time.Duration(i/3) * time.Second)})
			want = append(want, e.ID)
		}
		list := func(after *ports.Keyset) ([]ports.Keyset, error) {
			es, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Limit: 2, After: after})
			var keys []ports.Keyset
			for _, e := range es {
				keys = append(keys, ports.Keyset{At: e.CreatedAt, ID: e.ID})
			}
			return keys, err
		}
		full := keysetWalk(f, "ListExecutions", 2, list, nil)
		checkKeysetPages(f, "pages of a still list", full, want)
		f.eq("rows on the pages", len(full), 12)

		// Rows inserted between pages: newer ones (they belong before the
		// first page and are not seen), one at an instant already paged
		// with a higher id (also before the cursor), one with a lower id
		// at the same instant as the keyset and one older (both after the
		// cursor: each seen exactly once).
		n := 200
		var later []string
		keys := keysetWalk(f, "ListExecutions", 2, list, func(page int) {
			f.create(execOpts{ID: uuidN(n), CreatedAt: at(time.Hour)})
			f.create(execOpts{ID: uuidN(900 + n), CreatedAt: at(3 * time.Second)})
			if page == 1 { // after page 1 the keyset is uuidN(108) at 2s
				e, _ := f.create(execOpts{ID: uuidN(1), CreatedAt: at(2 * time.Second)})
				later = append(later, e.ID)
				e, _ = f.create(execOpts{ID: uuidN(2), CreatedAt: at(-time.Second)})
				later = append(later, e.ID)
			}
			n++
		})
		checkKeysetPages(f, "pages while rows are inserted", keys, append(want, later...))
		f.eq("rows on the pages while inserting", len(keys), 14)

		// After combines with the filters.
		f.create(execOpts{ID: uuidN(300), Fn: "other", CreatedAt: at(time.Second)})
		es, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Function: "other",
			After: &ports.Keyset{At: at(2 * time.Second), ID: uuidN(0)}})
		f.noErr(err, "ListExecutions")
		f.eq("filtered keyset page", execIDs(es), []string{uuidN(300)})
		es, err = f.s.ListExecutions(f.ctx, ports.ExecutionFilter{After: &ports.Keyset{At: at(-time.Hour), ID: uuidN(999)}})
		f.noErr(err, "ListExecutions")
		f.eq("keyset past the oldest row", len(es), 0)
	})

	h.run(t, "dead letters page by keyset in a stable order with equal moved_at, skipping and repeating nothing while rows are inserted", func(t *testing.T, f *fixture) {
		var want []string
		for i := range 6 {
			want = append(want, f.deadLetterAt(at(time.Minute+time.Duration(i/3)*time.Second)))
		}
		list := func(after *ports.Keyset) ([]ports.Keyset, error) {
			ds, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{Limit: 2, After: after})
			var keys []ports.Keyset
			for _, d := range ds {
				keys = append(keys, ports.Keyset{At: d.MovedAt, ID: d.TaskID})
			}
			return keys, err
		}
		full := keysetWalk(f, "ListDeadLetters", 2, list, nil)
		checkKeysetPages(f, "pages of a still list", full, want)
		f.eq("rows on the pages", len(full), 6)

		var older string
		keys := keysetWalk(f, "ListDeadLetters", 2, list, func(page int) {
			f.deadLetterAt(at(time.Hour)) // newer than every page: not seen
			if page == 0 {
				older = f.deadLetterAt(at(30 * time.Second)) // older: seen once, last
			}
		})
		checkKeysetPages(f, "pages while rows are inserted", keys, append(slices.Clone(want), older))
		f.eq("rows on the pages while inserting", len(keys), 7)
		f.eq("the older row comes last", keys[len(keys)-1].ID, older)
	})

	h.run(t, "a keyset with an offset, an empty id or a zero time is invalid", func(t *testing.T, f *fixture) {
		k := &ports.Keyset{At: at(time.Second), ID: uuidN(1)}
		for _, c := range []struct {
			name string
			e    ports.ExecutionFilter
			d    ports.DeadLetterFilter
			want string
		}{
			{"with an offset", ports.ExecutionFilter{After: k, Offset: 3}, ports.DeadLetterFilter{After: k, Offset: 3}, "offset 3"},
			{"with an empty id", ports.ExecutionFilter{After: &ports.Keyset{At: at(0)}}, ports.DeadLetterFilter{After: &ports.Keyset{At: at(0)}}, "id is empty"},
			{"with a zero time", ports.ExecutionFilter{After: &ports.Keyset{ID: "x"}}, ports.DeadLetterFilter{After: &ports.Keyset{ID: "x"}}, "time is zero"},
		} {
			_, err := f.s.ListExecutions(f.ctx, c.e)
			f.errNames(err, domain.ErrInvalidArgument, c.want, fmt.Sprintf("ListExecutions keyset %s", c.name))
			_, err = f.s.ListDeadLetters(f.ctx, c.d)
			f.errNames(err, domain.ErrInvalidArgument, c.want, fmt.Sprintf("ListDeadLetters keyset %s", c.name))
		}
	})
}
