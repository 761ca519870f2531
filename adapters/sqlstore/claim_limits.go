package sqlstore

import (
	"sort"
	"time"

	"github.com/stenthq/stent/domain"
)

// flowLimits checks the keyed concurrency limits and the rate limits of
// one claim transaction (see ports.ClaimStore). A group is locked (the
// dialect's TryLockGroup: PostgreSQL advisory xact locks) and read the
// first time the claim meets one of its tasks; a group another claimer
// holds is skipped this time, as FOR UPDATE SKIP LOCKED skips rows, so
// claimers never wait on each other in an order that could deadlock and
// never decide on a group from a stale count.
type flowLimits struct {
	s   *Store
	t   *txn
	now time.Time

	keyRunning map[string]int // locked keyed groups: running tasks when locked
	keyChosen  map[string]int // tasks of the group chosen by this claim
	keyBusy    map[string]bool
	full       map[string]struct{} // keyed groups without a free slot: excluded from later reads

	rateStarts map[string][]time.Time // locked rate groups: recorded starts, sorted
	ratePer    map[string]time.Duration
	rateBusy   map[string]bool
	charged    [][]any // new rate_starts rows
	held       [][]any // (id, limited_until) of the tasks the rate limits held back
}

func newFlowLimits(s *Store, t *txn, now time.Time) *flowLimits {
	return &flowLimits{
		s: s, t: t, now: now,
		keyRunning: map[string]int{}, keyChosen: map[string]int{}, keyBusy: map[string]bool{}, full: map[string]struct{}{},
		rateStarts: map[string][]time.Time{}, ratePer: map[string]time.Duration{}, rateBusy: map[string]bool{},
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

// keyCount locks a keyed concurrency group and counts its running tasks
// (once per claim); ok=false when another claimer holds the group.
func (f *flowLimits) keyCount(g string) (int, bool, error) {
	if n, ok := f.keyRunning[g]; ok {
		return n, true, nil
	}
	if f.keyBusy[g] {
		return 0, false, nil
	}
	ok, err := f.s.d.TryLockGroup(f.t.ctx, f.t.tx, "concurrency", g)
	if err != nil || !ok {
		f.keyBusy[g] = !ok
		return 0, false, err
	}
	var n int64
	if err := f.t.queryRow(`SELECT COUNT(*) FROM @tasks WHERE concurrency_key = ? AND concurrency_key <> ''
 AND state = 'running' AND kind IN ('orchestrator', 'activity')`, g).Scan(&n); err != nil {
		return 0, false, err
	}
	f.keyRunning[g] = int(n)
	return int(n), true, nil
}

// rateLog locks a rate group and reads its recorded starts (once per
// claim); ok=false when another claimer holds the group.
func (f *flowLimits) rateLog(key string) ([]time.Time, bool, error) {
	if st, ok := f.rateStarts[key]; ok {
		return st, true, nil
	}
	if f.rateBusy[key] {
		return nil, false, nil
	}
	ok, err := f.s.d.TryLockGroup(f.t.ctx, f.t.tx, "rate", key)
	if err != nil || !ok {
		f.rateBusy[key] = !ok
		return nil, false, err
	}
	rows, err := f.t.query(`SELECT started_at FROM @rate_starts WHERE rate_key = ? ORDER BY started_at`, key)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	st := []time.Time{}
	for rows.Next() {
		var at nullTime
		if err := rows.Scan(&at); err != nil {
			return nil, false, err
		}
		st = append(st, at.val())
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	f.rateStarts[key] = st
	return st, true, nil
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
// slot (written by flush).
func (f *flowLimits) admit(c *candidate) (bool, error) {
	keyed := c.maxConcurrent > 0 && c.concurrencyKey != ""
	if keyed {
		n, ok, err := f.keyCount(c.concurrencyKey)
		if err != nil || !ok {
			return false, err
		}
		if n+f.keyChosen[c.concurrencyKey] >= c.maxConcurrent {
			f.full[c.concurrencyKey] = struct{}{}
			return false, nil
		}
	}
	rated := c.source == fresh && c.rateLimit > 0
	if rated {
		starts, ok, err := f.rateLog(c.rateKey)
		if err != nil || !ok {
			return false, err
		}
		if win := inWindow(starts, f.now, c.ratePer); len(win) >= c.rateLimit {
			until := domain.NormalizeTime(domain.RateWindowFree(win, c.rateLimit, c.ratePer, f.now))
			f.held = append(f.held, []any{c.id, until})
			return false, nil
		}
	}
	if keyed {
		f.keyChosen[c.concurrencyKey]++
	}
	if rated {
		f.rateStarts[c.rateKey] = domain.InsertSorted(f.rateStarts[c.rateKey], f.now)
		f.ratePer[c.rateKey] = max(f.ratePer[c.rateKey], c.ratePer)
		f.charged = append(f.charged, []any{c.rateKey, f.now, c.id})
	}
	return true, nil
}

var (
	startCols = []Column{{"s_key", ColText}, {"s_at", ColTime}, {"s_task", ColText}}
	heldCols  = []Column{{"h_id", ColText}, {"h_until", ColTime}}
)

// flush records the rate-limited starts of this claim, prunes the starts
// that left their windows, and marks the held-back tasks.
func (f *flowLimits) flush() error {
	if len(f.charged) > 0 {
		if _, err := f.t.exec(`INSERT INTO @rate_starts (rate_key, started_at, task_id) SELECT f.s_key, f.s_at, f.s_task FROM `+
			f.s.d.RowSet("f", startCols), f.s.d.RowSetArgs(startCols, f.charged)...); err != nil {
			return err
		}
		keys := make([]string, 0, len(f.ratePer))
		for k := range f.ratePer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, err := f.t.exec(`DELETE FROM @rate_starts WHERE rate_key = ? AND started_at <= ?`,
				k, f.s.tm(f.now.Add(-f.ratePer[k]))); err != nil {
				return err
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
