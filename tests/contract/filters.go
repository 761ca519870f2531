package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// testExecutionFilters covers the tag, id prefix, time range and text
// filters of ListExecutions, alone, together, with keyset pages, and their
// bad input.
func testExecutionFilters(t *testing.T, h storeSuite) {
	h.run(t, "executions filter by tags, id prefix, created range and text, and page by keyset", func(t *testing.T, f *fixture) {
		id := func(prefix string, n int) string { return prefix + uuidN(n)[len(prefix):] }
		a, _ := f.create(execOpts{ID: id("abc", 1), Tags: []string{"red", "blue"}, Input: `{"customer":"Ada Lovelace"}`, CreatedAt: at(time.Second)})
		_, broot := f.start(execOpts{ID: id("abd", 2), Tags: []string{"red"}, Input: `{"note":"100%_off"}`, CreatedAt: at(2 * time.Second)})
		f.complete(broot, `{"total":"Ada"}`, at(2*time.Second))
		_, croot := f.start(execOpts{ID: id("bcd", 3), Tags: []string{"blue"}, Input: `{"card":"4242"}`, CreatedAt: at(3 * time.Second)})
		f.fail(croot, "card_declined", at(3*time.Second))
		d, _ := f.create(execOpts{ID: id("bce", 4), Input: `{"path":"a\\b","name":"Ünïcode"}`, CreatedAt: at(4 * time.Second)})
		e, _ := f.create(execOpts{ID: id("abe", 5), Tags: []string{"red", "green"}, Input: `"ADA"`, CreatedAt: at(5 * time.Second)})
		b, c := f.exec(broot.ExecutionID), f.exec(croot.ExecutionID)

		list := func(fl ports.ExecutionFilter) []string {
			t.Helper()
			es, err := f.s.ListExecutions(f.ctx, fl)
			f.noErr(err, "ListExecutions")
			return execIDs(es)
		}
		for _, tc := range []struct {
			what   string
			filter ports.ExecutionFilter
			want   []string
		}{
			{"tag red", ports.ExecutionFilter{Tags: []string{"red"}}, []string{e.ID, b.ID, a.ID}},
			{"tags red and blue (both)", ports.ExecutionFilter{Tags: []string{"red", "blue"}}, []string{a.ID}},
			{"tag nobody has", ports.ExecutionFilter{Tags: []string{"purple"}}, nil},
			{"id prefix ab", ports.ExecutionFilter{IDPrefix: "ab"}, []string{e.ID, b.ID, a.ID}},
			{"id prefix bce", ports.ExecutionFilter{IDPrefix: "bce"}, []string{d.ID}},
			{"a whole id as prefix", ports.ExecutionFilter{IDPrefix: c.ID}, []string{c.ID}},
			{"id prefix in upper case (ids match exactly)", ports.ExecutionFilter{IDPrefix: "ABC"}, nil},
			{"id prefix with a LIKE wildcard", ports.ExecutionFilter{IDPrefix: "a%"}, nil},
			{"created from 2s (inclusive) before 4s (exclusive)", ports.ExecutionFilter{CreatedFrom: at(2 * time.Second), CreatedBefore: at(4 * time.Second)}, []string{c.ID, b.ID}},
			{"created from 4s", ports.ExecutionFilter{CreatedFrom: at(4 * time.Second)}, []string{e.ID, d.ID}},
			{"created before 2s", ports.ExecutionFilter{CreatedBefore: at(2 * time.Second)}, []string{a.ID}},
			{"text in input, result, any ASCII case", ports.ExecutionFilter{Text: "ada"}, []string{e.ID, b.ID, a.ID}},
			{"text in the error", ports.ExecutionFilter{Text: "CARD_DECLINED"}, []string{c.ID}},
			{"text with % and _ matches them literally", ports.ExecutionFilter{Text: "%_o"}, []string{b.ID}},
			{"a lone % matches only a %", ports.ExecutionFilter{Text: "%"}, []string{b.ID}},
			{"a backslash (as stored in JSON text)", ports.ExecutionFilter{Text: `a\\b`}, []string{d.ID}},
			{"non-ASCII letters match exactly", ports.ExecutionFilter{Text: "Ünï"}, []string{d.ID}},
			{"non-ASCII letters are not case folded", ports.ExecutionFilter{Text: "ünï"}, nil},
			{"text and tag and state", ports.ExecutionFilter{Text: "ada", Tags: []string{"red"},
				States: []domain.ExecutionState{domain.ExecutionCompleted}}, []string{b.ID}},
			{"text and time range", ports.ExecutionFilter{Text: "ada", CreatedBefore: at(5 * time.Second)}, []string{b.ID, a.ID}},
			{"id prefix and tag", ports.ExecutionFilter{IDPrefix: "ab", Tags: []string{"green"}}, []string{e.ID}},
		} {
			f.eq(tc.what, list(tc.filter), tc.want)
		}

		// Keyset pages with each new filter: every row once, in order.
		for _, fl := range []ports.ExecutionFilter{
			{Tags: []string{"red"}}, {IDPrefix: "ab"}, {Text: "ada"},
			{CreatedFrom: at(time.Second), CreatedBefore: at(4 * time.Second)},
		} {
			var got []string
			var after *ports.Keyset
			for range 10 {
				fl.Limit, fl.After = 1, after
				es, err := f.s.ListExecutions(f.ctx, fl)
				f.noErr(err, "ListExecutions page")
				if len(es) == 0 {
					break
				}
				got = append(got, es[0].ID)
				after = &ports.Keyset{At: es[0].CreatedAt, ID: es[0].ID}
			}
			fl.Limit, fl.After = 0, nil
			f.eq("keyset pages of "+strings.TrimSpace(strings.ReplaceAll(strings.Join(list(fl), " "), "\n", "")), got, list(fl))
			if len(got) < 3 {
				t.Errorf("%s: keyset pages of %+v: %d rows; want 3", f.name, fl, len(got))
			}
		}
		// A keyset page mid-way with a text filter.
		es, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Text: "ada", Limit: 5,
			After: &ports.Keyset{At: b.CreatedAt, ID: b.ID}})
		f.noErr(err, "ListExecutions")
		f.eq("text page after b", execIDs(es), []string{a.ID})
	})

	h.run(t, "bad execution filters are invalid arguments naming the filter", func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			what, name string
			filter     ports.ExecutionFilter
		}{
			{"a text of 1025 bytes", "text filter", ports.ExecutionFilter{Text: strings.Repeat("x", ports.MaxKeyBytes+1)}},
			{"a text with a NUL byte", "text filter", ports.ExecutionFilter{Text: "a\x00b"}},
			{"a text that is not UTF-8", "text filter", ports.ExecutionFilter{Text: "a\xffb"}},
			{"an id prefix of 256 bytes", "id prefix filter", ports.ExecutionFilter{IDPrefix: strings.Repeat("a", ports.MaxIDBytes+1)}},
			{"an id prefix with a NUL byte", "id prefix filter", ports.ExecutionFilter{IDPrefix: "\x00"}},
			{"a tag that is not UTF-8", "tag filter", ports.ExecutionFilter{Tags: []string{"ok", "\xc3"}}},
			{"a tag of 256 bytes", "tag filter", ports.ExecutionFilter{Tags: []string{strings.Repeat("t", ports.MaxNameBytes+1)}}},
			{"created from after created before", "created from", ports.ExecutionFilter{CreatedFrom: at(time.Hour), CreatedBefore: at(time.Second)}},
			{"created from equal to created before", "created from", ports.ExecutionFilter{CreatedFrom: at(time.Hour), CreatedBefore: at(time.Hour)}},
		} {
			_, err := f.s.ListExecutions(f.ctx, tc.filter)
			f.errNames(err, domain.ErrInvalidArgument, tc.name, tc.what)
		}
		// A 1024-byte text is fine.
		_, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Text: strings.Repeat("x", ports.MaxKeyBytes)})
		f.noErr(err, "a 1024-byte text")
	})
}

// testListFinished covers ListFinished, the read behind the throughput
// and latency chart.
func testListFinished(t *testing.T, h storeSuite) {
	h.run(t, "finished executions in a window, most recently finished first, bounded", func(t *testing.T, f *fixture) {
		_, r1 := f.start(execOpts{ID: uuidN(1), Queue: "q1", CreatedAt: at(time.Second)})
		f.complete(r1, `1`, at(10*time.Second))
		_, r2 := f.start(execOpts{ID: uuidN(2), Queue: "q2", CreatedAt: at(2 * time.Second)})
		f.fail(r2, "boom", at(20*time.Second))
		e3, _ := f.create(execOpts{ID: uuidN(3), CreatedAt: at(3 * time.Second)})
		_, _, err := f.s.CancelExecution(f.ctx, e3.ID, at(30*time.Second))
		f.noErr(err, "CancelExecution")
		_, r4 := f.start(execOpts{ID: uuidN(4), CreatedAt: at(4 * time.Second)})
		f.complete(r4, `4`, at(20*time.Second))                          // ties with 2 at 20s: id desc
		f.start(execOpts{ID: uuidN(5), CreatedAt: at(5 * time.Second)})  // running
		f.create(execOpts{ID: uuidN(6), CreatedAt: at(6 * time.Second)}) // pending
		_, r7 := f.start(execOpts{ID: uuidN(7), CreatedAt: at(-2 * time.Hour)})
		f.complete(r7, `7`, at(-time.Hour)) // before the window

		rows := func(fl ports.FinishedFilter) []string {
			t.Helper()
			got, err := f.s.ListFinished(f.ctx, fl)
			f.noErr(err, "ListFinished")
			var out []string
			for _, e := range got {
				out = append(out, e.ID[len(e.ID)-1:]+" "+string(e.State)+" "+e.Queue+" "+
					e.FinishedAt.Sub(e.CreatedAt).String())
			}
			return out
		}
		f.eq("window from 0", rows(ports.FinishedFilter{Since: epoch}),
			[]string{"3 cancelled  27s", "4 completed  16s", "2 failed q2 18s", "1 completed q1 9s"})
		f.eq("since is inclusive", rows(ports.FinishedFilter{Since: at(20 * time.Second)}),
			[]string{"3 cancelled  27s", "4 completed  16s", "2 failed q2 18s"})
		f.eq("until is exclusive", rows(ports.FinishedFilter{Since: epoch, Until: at(30 * time.Second)}),
			[]string{"4 completed  16s", "2 failed q2 18s", "1 completed q1 9s"})
		f.eq("limit 2", rows(ports.FinishedFilter{Since: epoch, Limit: 2}),
			[]string{"3 cancelled  27s", "4 completed  16s"})
		f.eq("a window holding the old one", len(rows(ports.FinishedFilter{Since: at(-24 * time.Hour)})), 5)
		f.eq("an empty window", len(rows(ports.FinishedFilter{Since: at(time.Hour)})), 0)
		got, err := f.s.ListFinished(f.ctx, ports.FinishedFilter{Since: epoch, Limit: 1})
		f.noErr(err, "ListFinished")
		f.eqTime("created at", got[0].CreatedAt, at(3*time.Second))
		f.eqTime("finished at", got[0].FinishedAt, at(30*time.Second))

		for _, tc := range []struct {
			what, name string
			filter     ports.FinishedFilter
		}{
			{"no since", "since is zero", ports.FinishedFilter{}},
			{"until before since", "finished from", ports.FinishedFilter{Since: at(time.Hour), Until: at(time.Second)}},
			{"a negative limit", "-1", ports.FinishedFilter{Since: epoch, Limit: -1}},
		} {
			_, err := f.s.ListFinished(f.ctx, tc.filter)
			f.errNames(err, domain.ErrInvalidArgument, tc.name, tc.what)
		}
	})
}
