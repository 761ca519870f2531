package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ListLimitUsage reports the flow limits' current use (see
// ports.LimitStore): GROUP BY counts of the live limited tasks and the
// rate log (a row per claim and group, pruned to the window by the
// claims; it keeps the function, queue, limit and period of its starts,
// so starts whose tasks retention removed still count), tallied by
// domain.LimitTally like memstore does.
func (s *Store) ListLimitUsage(ctx context.Context, f ports.LimitUsageFilter) ([]domain.LimitUsage, error) {
	if err := s.valid(ports.ValidateLimitUsageFilter(f)); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	var (
		concWhere, rateWhere, startWhere string
		concArgs, rateArgs               []any
	)
	if len(f.Groups) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Groups)), ", ")
		concWhere = ` AND (concurrency_key IN (` + marks + `) OR (concurrency_key = '' AND step_name IN (` + marks + `)))`
		rateWhere = ` AND rate_key IN (` + marks + `)`
		startWhere = ` WHERE rate_key IN (` + marks + `)`
		for _, g := range f.Groups {
			rateArgs = append(rateArgs, g)
		}
		concArgs = append(append(concArgs, rateArgs...), rateArgs...)
	}
	var tally *domain.LimitTally
	err := s.read(ctx, "list limit usage", func(t *txn) error {
		tally = domain.NewLimitTally(f.Groups)
		rows, err := t.query(`SELECT concurrency_key, step_name, queue, state, COUNT(*), MAX(max_concurrent) FROM @tasks
 WHERE state IN ('pending', 'running') AND `+inStates("state", liveTaskStates)+` AND kind IN ('orchestrator', 'activity') AND max_concurrent > 0`+concWhere+`
 GROUP BY concurrency_key, step_name, queue, state`, concArgs...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				key, step, queue, state string
				n, limit                int64
			)
			if err := rows.Scan(&key, &step, &queue, &state, &n, &limit); err != nil {
				rows.Close()
				return err
			}
			group := key
			if group == "" {
				group = step
			}
			tally.AddTasks(domain.LimitConcurrency, group, step, queue, domain.TaskState(state), n, int(limit), 0)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(`SELECT rate_key, step_name, queue, state, COUNT(*), MAX(rate_limit), MAX(rate_per) FROM @tasks
 WHERE state IN ('pending', 'running') AND `+inStates("state", liveTaskStates)+` AND kind IN ('orchestrator', 'activity') AND rate_limit > 0`+rateWhere+`
 GROUP BY rate_key, step_name, queue, state`, rateArgs...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				key, step, queue, state string
				n, limit, per           int64
			)
			if err := rows.Scan(&key, &step, &queue, &state, &n, &limit, &per); err != nil {
				rows.Close()
				return err
			}
			tally.AddTasks(domain.LimitRate, key, step, queue, domain.TaskState(state), n, int(limit), time.Duration(per)*time.Microsecond)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(`SELECT rate_key, started_at, step_name, queue, rate_limit, rate_per, starts FROM @rate_log`+startWhere, rateArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				key, step, queue string
				at               nullTime
				limit, per, n    int64
			)
			if err := rows.Scan(&key, &at, &step, &queue, &limit, &per, &n); err != nil {
				return err
			}
			for range n {
				tally.AddStart(key, step, queue, at.val(), int(limit), time.Duration(per)*time.Microsecond)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return tally.List(domain.NormalizeTime(f.Now), ports.PageLimit(f.Limit)), nil
}
