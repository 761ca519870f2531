package sqlstore

import (
	"sort"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
)

// flowLimits checks the keyed concurrency limits and the rate limits of
// one claim transaction (see ports.ClaimStore). The candidate reads take
// the locks of their rows' groups (Dialect.FlowLocks: PostgreSQL advisory
// xact locks, in the read itself); the groups of each page are then read
// (one statement: the running count of every keyed group, the starts in
// the window of every rate group) before the page's candidates are
// admitted. A group another claimer holds is skipped this time, as FOR
// UPDATE SKIP LOCKED skips rows, so claimers never wait on each other in
// an order that could deadlock and never decide on a group from a stale
// count. The read is a statement of its own after the locking read: under
// READ COMMITTED it sees everything the previous holder committed before
// it released them (a count in the locking statement could miss it: its
// snapshot is taken before the locks).
type flowLimits struct {
	s   *Store
	t   *txn
	now time.Time

	keyRunning map[string]int // locked keyed groups: running tasks when locked
	keyChosen  map[string]int // tasks of the group chosen by this claim
	keyBusy    map[string]bool
	full       map[string]struct{} // keyed groups without a free slot: excluded from later reads

	rateCount  map[string]int           // locked rate groups: logged starts after now-rateWin
	rateWin    map[string]time.Duration // the window rateCount was counted over
	rateChosen map[string]int           // fresh starts this claim charged to the group
	rateStarts map[string][]time.Time   // the group's full log (with this claim's starts), read only when the count is not enough
	ratePer    map[string]time.Duration
	rateBusy   map[string]bool
	charged    map[rateRow]*rateCharge // this claim's rate_log rows
	held       [][]any                 // (id, limited_until) of the tasks the rate limits held back
}

func newFlowLimits(s *Store, t *txn, now time.Time) *flowLimits {
	return &flowLimits{
		s: s, t: t, now: now,
		keyRunning: map[string]int{}, keyChosen: map[string]int{}, keyBusy: map[string]bool{}, full: map[string]struct{}{},
		rateCount: map[string]int{}, rateWin: map[string]time.Duration{}, rateChosen: map[string]int{},
		rateStarts: map[string][]time.Time{}, ratePer: map[string]time.Duration{}, rateBusy: map[string]bool{},
		charged: map[rateRow]*rateCharge{},
	}
}

// fullKeys returns the keyed groups known to have no free slot, sorted.
func (f *flowLimits) fullKeys() []string {
	if f == nil || len(f.full) == 0 {
		return nil
	}
	out := make([]string, 0, len(f.full))
	for k := range f.full {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyCols is the row set of the keyed groups whose running tasks a claim
// counts. The count joins it rather than testing concurrency_key against a
// list: PostgreSQL planned the list as a filter over every running task,
// comparing each with every key of a bound array (9 ms a claim at 1,000
// keys here, against 2 ms for the join's index probe per key).
var keyCols = []Column{{"g_key", ColText}}

var rateWinCols = []Column{{"w_key", ColText}, {"w_from", ColTime}}

// prefetch reads the groups of cands the claim has not met yet, whose
// locks the candidate read took (candidate.keyLocked, rateLocked; a group
// whose lock another claimer holds is busy for this claim): one statement
// reads the running counts of the keyed groups and the windowed start
// counts of the rate groups.
func (f *flowLimits) prefetch(cands []candidate) error {
	var keys []string
	var rates [][]any
	win := map[string]time.Duration{}
	for i := range cands {
		c := &cands[i]
		if k := c.concurrencyKey; c.maxConcurrent > 0 && k != "" {
			if _, ok := f.keyRunning[k]; !ok && !f.keyBusy[k] {
				if c.keyLocked {
					keys = append(keys, k)
					f.keyRunning[k] = 0
				} else {
					f.keyBusy[k] = true
				}
			}
		}
		if k := c.rateKey; c.source == fresh && c.rateLimit > 0 {
			if _, ok := f.rateCount[k]; ok && win[k] > 0 {
				win[k] = max(win[k], c.ratePer) // met first in this page
			} else if !ok && !f.rateBusy[k] {
				if c.rateLocked {
					win[k] = c.ratePer
					f.rateCount[k] = 0
				} else {
					f.rateBusy[k] = true
				}
			}
		}
	}
	for k, w := range win {
		rates = append(rates, []any{k, f.now.Add(-w)})
		f.rateWin[k] = w
	}
	var parts []string
	var args []any
	if len(keys) > 0 {
		rowsIn := make([][]any, len(keys))
		for i, k := range keys {
			rowsIn[i] = []any{k}
		}
		parts = append(parts, `SELECT 0 AS kind, t.concurrency_key AS k, COUNT(*) AS n FROM @tasks t JOIN `+f.s.d.RowSet("g", keyCols)+`
 ON t.concurrency_key = g.g_key WHERE t.concurrency_key <> '' AND t.state = 'running' AND t.kind IN ('orchestrator', 'activity') GROUP BY t.concurrency_key`)
		args = append(args, f.s.d.RowSetArgs(keyCols, rowsIn)...)
	}
	if len(rates) > 0 {
		parts = append(parts, `SELECT 1 AS kind, r.rate_key AS k, SUM(r.starts) AS n FROM @rate_log r JOIN `+f.s.d.RowSet("w", rateWinCols)+`
 ON r.rate_key = w.w_key AND r.started_at > w.w_from GROUP BY r.rate_key`)
		args = append(args, f.s.d.RowSetArgs(rateWinCols, rates)...)
	}
	if len(parts) == 0 {
		return nil
	}
	rows, err := f.t.query(strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, n int64
		var k string
		if err := rows.Scan(&kind, &k, &n); err != nil {
			return err
		}
		if kind == 0 {
			f.keyRunning[k] = int(n)
		} else {
			f.rateCount[k] = int(n)
		}
	}
	return rows.Err()
}

// rateLog reads a locked rate group's full log of starts, with the starts
// this claim charged to it (once per claim, only when the windowed count
// cannot decide).
func (f *flowLimits) rateLog(key string) ([]time.Time, error) {
	if st, ok := f.rateStarts[key]; ok {
		return st, nil
	}
	rows, err := f.t.query(`SELECT started_at, starts FROM @rate_log WHERE rate_key = ? ORDER BY started_at`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := []time.Time{}
	for rows.Next() {
		var at nullTime
		var n int64
		if err := rows.Scan(&at, &n); err != nil {
			return nil, err
		}
		for range n {
			st = append(st, at.val())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for range f.rateChosen[key] {
		st = domain.InsertSorted(st, f.now)
	}
	f.rateStarts[key] = st
	return st, nil
}

// inWindow returns the starts after now-per.
func inWindow(starts []time.Time, now time.Time, per time.Duration) []time.Time {
	from := now.Add(-per)
	i := sort.Search(len(starts), func(i int) bool { return starts[i].After(from) })
	return starts[i:]
}

// admit reports whether c may be claimed under its keyed concurrency
// limit and its rate limit, and counts it in both if so. A fresh task
// turned down by its rate limit is held back until its group frees a
// slot (written by flush). c's groups are normally prefetched with its
// page; a group met otherwise is locked and read alone.
func (f *flowLimits) admit(c *candidate) (bool, error) {
	keyed := c.maxConcurrent > 0 && c.concurrencyKey != ""
	rated := c.source == fresh && c.rateLimit > 0
	_, knownKey := f.keyRunning[c.concurrencyKey]
	_, knownRate := f.rateCount[c.rateKey]
	if (keyed && !knownKey && !f.keyBusy[c.concurrencyKey]) || (rated && !knownRate && !f.rateBusy[c.rateKey]) {
		if err := f.prefetch([]candidate{*c}); err != nil {
			return false, err
		}
	}
	if keyed {
		n, ok := f.keyRunning[c.concurrencyKey]
		if !ok {
			return false, nil // another claimer holds the group
		}
		if n+f.keyChosen[c.concurrencyKey] >= c.maxConcurrent {
			f.full[c.concurrencyKey] = struct{}{}
			return false, nil
		}
	}
	if rated {
		n, ok := f.rateCount[c.rateKey]
		if !ok {
			return false, nil // another claimer holds the group
		}
		_, exact := f.rateStarts[c.rateKey]
		fits := !exact && c.ratePer <= f.rateWin[c.rateKey] && n+f.rateChosen[c.rateKey] < c.rateLimit
		if !fits {
			// The count over the widest window of the page cannot
			// decide (or says full): check the full log, and find when
			// the window frees a slot.
			starts, err := f.rateLog(c.rateKey)
			if err != nil {
				return false, err
			}
			if win := inWindow(starts, f.now, c.ratePer); len(win) >= c.rateLimit {
				until := domain.NormalizeTime(domain.RateWindowFree(win, c.rateLimit, c.ratePer, f.now))
				f.held = append(f.held, []any{c.id, until})
				return false, nil
			}
		}
	}
	if keyed {
		f.keyChosen[c.concurrencyKey]++
	}
	if rated {
		f.rateChosen[c.rateKey]++
		if st, ok := f.rateStarts[c.rateKey]; ok {
			f.rateStarts[c.rateKey] = domain.InsertSorted(st, f.now)
		}
		f.ratePer[c.rateKey] = max(f.ratePer[c.rateKey], c.ratePer)
		row := rateRow{c.rateKey, c.stepName, c.queue}
		ch := f.charged[row]
		if ch == nil {
			ch = &rateCharge{}
			f.charged[row] = ch
		}
		ch.n++
		ch.limit, ch.per = max(ch.limit, c.rateLimit), max(ch.per, c.ratePer)
	}
	return true, nil
}

// rateRow is the key of a rate_log row: a rate group, and the function
// and queue of the starts it counts.
type rateRow struct{ key, step, queue string }

// rateCharge is what a claim logs in a rate_log row: its starts, and the
// largest limit and period among their tasks.
type rateCharge struct {
	n, limit int
	per      time.Duration
}

var (
	startCols = []Column{{"s_key", ColText}, {"s_at", ColTime}, {"s_step", ColText}, {"s_queue", ColText},
		{"s_limit", ColInt}, {"s_per", ColInt}, {"s_n", ColInt}}
	heldCols  = []Column{{"h_id", ColText}, {"h_until", ColTime}}
	pruneCols = []Column{{"p_key", ColText}, {"p_before", ColTime}}
)

// flush logs the rate-limited starts of this claim (a rate_log row per
// group, function and queue, added to the row of a claim at the same
// instant), prunes the rows that left their windows, and marks the
// held-back tasks.
func (f *flowLimits) flush() error {
	if len(f.charged) > 0 {
		rows := make([]rateRow, 0, len(f.charged))
		for r := range f.charged {
			rows = append(rows, r)
		}
		sort.Slice(rows, func(i, j int) bool {
			a, b := rows[i], rows[j]
			if a.key != b.key {
				return a.key < b.key
			}
			if a.step != b.step {
				return a.step < b.step
			}
			return a.queue < b.queue
		})
		logged := make([][]any, len(rows))
		for i, r := range rows {
			ch := f.charged[r]
			logged[i] = []any{r.key, f.now, r.step, r.queue, int64(ch.limit), ch.per.Microseconds(), int64(ch.n)}
		}
		keys := make([]string, 0, len(f.ratePer))
		for k := range f.ratePer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		prune := make([][]any, len(keys))
		for i, k := range keys {
			prune[i] = []any{k, f.now.Add(-f.ratePer[k])}
		}
		// WHERE true: SQLite's upsert after INSERT ... SELECT needs a
		// WHERE to parse the ON CONFLICT clause.
		insert := `INSERT INTO @rate_log AS rl (rate_key, started_at, step_name, queue, rate_limit, rate_per, starts)
 SELECT f.s_key, f.s_at, f.s_step, f.s_queue, f.s_limit, f.s_per, f.s_n FROM ` + f.s.d.RowSet("f", startCols) + ` WHERE true
 ON CONFLICT (rate_key, started_at, step_name, queue) DO UPDATE SET starts = rl.starts + excluded.starts,
 rate_limit = excluded.rate_limit, rate_per = excluded.rate_per`
		if f.s.d.Name() == "postgres" {
			// One statement: the prune as a data-modifying CTE (its
			// rows are older than the window, never the new starts).
			args := append(f.s.d.RowSetArgs(pruneCols, prune), f.s.d.RowSetArgs(startCols, logged)...)
			if _, err := f.t.exec(`WITH pruned AS (DELETE FROM @rate_log r USING `+f.s.d.RowSet("p", pruneCols)+`
 WHERE r.rate_key = p.p_key AND r.started_at <= p.p_before) `+insert, args...); err != nil {
				return err
			}
		} else {
			if _, err := f.t.exec(insert, f.s.d.RowSetArgs(startCols, logged)...); err != nil {
				return err
			}
			for _, p := range prune {
				if _, err := f.t.exec(`DELETE FROM @rate_log WHERE rate_key = ? AND started_at <= ?`, p[0], f.s.tm(p[1].(time.Time))); err != nil {
					return err
				}
			}
		}
	}
	if len(f.held) > 0 {
		if _, err := f.t.exec(`UPDATE @tasks SET limited_until = f.h_until FROM `+f.s.d.RowSet("f", heldCols)+
			` WHERE id = f.h_id AND `+f.s.d.Unindexed("state")+` = 'pending'`, f.s.d.RowSetArgs(heldCols, f.held)...); err != nil {
			return err
		}
	}
	return nil
}
