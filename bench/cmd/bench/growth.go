package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// preloadGrowth is W5's load phase: it runs one real no-op execution on the
// fresh database (so the rows are exactly what Stent writes), then copies
// that execution and its root task set-wise (INSERT ... SELECT over
// generate_series) until the tables hold Sizes.W5Preload finished
// executions, with UUID-like ids (md5 of the prototype's id and the copy
// number, so the primary-key indexes see random keys as they do in real
// use) and created/finished times spread over the preceding minutes, then
// VACUUM ANALYZEs them and forces a CHECKPOINT.
func preloadGrowth(ctx context.Context, spec runSpec) (runResult, error) {
	start := time.Now()
	s, err := newStentEngine(ctx, spec, nil, nil)
	if err != nil {
		return runResult{}, err
	}
	if err := s.startWorker(ctx, 10); err != nil {
		s.shutdown()
		return runResult{}, err
	}
	id, err := s.fns.noop.Dispatch(ctx, s.eng, 0)
	if err == nil {
		_, err = s.fns.noop.Await(ctx, s.eng, id)
	}
	s.shutdown()
	if err != nil {
		return runResult{}, fmt.Errorf("prototype execution: %w", err)
	}

	conn, err := pgx.Connect(ctx, withoutPoolParams(spec.PGDSN))
	if err != nil {
		return runResult{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var rootTask string
	if err := conn.QueryRow(ctx, `SELECT root_task_id FROM public.executions WHERE id = $1`, id).Scan(&rootTask); err != nil {
		return runResult{}, fmt.Errorf("prototype execution row: %w", err)
	}
	execSQL, err := cloneSQL(ctx, conn, "executions", map[string]string{
		"id":              "md5(p.id || '-' || g)::uuid::text",
		"root_task_id":    "md5(p.root_task_id || '-' || g)::uuid::text",
		"idempotency_key": "NULL",
	})
	if err != nil {
		return runResult{}, err
	}
	taskSQL, err := cloneSQL(ctx, conn, "tasks", map[string]string{
		"id":              "md5(p.id || '-' || g)::uuid::text",
		"execution_id":    "md5(p.execution_id || '-' || g)::uuid::text",
		"idempotency_key": "NULL",
		"cache_key":       "NULL",
		"link_owner_id":   "NULL",
	})
	if err != nil {
		return runResult{}, err
	}
	const chunk = 100000
	total := spec.Sizes.W5Preload
	for lo := 1; lo <= total; lo += chunk {
		hi := min(lo+chunk-1, total)
		if _, err := conn.Exec(ctx, execSQL+` WHERE p.id = $1`, id, lo, hi); err != nil {
			return runResult{}, fmt.Errorf("preload executions %d..%d: %w", lo, hi, err)
		}
		if _, err := conn.Exec(ctx, taskSQL+` WHERE p.id = $1`, rootTask, lo, hi); err != nil {
			return runResult{}, fmt.Errorf("preload tasks %d..%d: %w", lo, hi, err)
		}
		fmt.Fprintf(os.Stderr, "bench: W5 preload %d/%d (%s)\n", hi, total, since(start))
	}
	for _, t := range []string{"executions", "tasks"} {
		if _, err := conn.Exec(ctx, `VACUUM ANALYZE public.`+t); err != nil {
			return runResult{}, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	// Flush the load's WAL now, so a checkpoint it would trigger does not
	// land in the middle of a timed run.
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		return runResult{}, fmt.Errorf("checkpoint: %w", err)
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM public.executions WHERE state = 'completed'`).Scan(&n); err != nil {
		return runResult{}, err
	}
	if n != int64(total)+1 {
		return runResult{}, fmt.Errorf("preload: %d completed executions; want %d", n, total+1)
	}
	return runResult{Metrics: []metric{{Name: "preload", Unit: "s", Value: time.Since(start).Seconds()}}, N: total,
		Settings: "INSERT ... SELECT generate_series copies of one real execution + root task; VACUUM ANALYZE; CHECKPOINT"}, nil
}

// cloneSQL builds INSERT INTO public.<table> SELECT ... FROM public.<table> p
// CROSS JOIN generate_series($2, $3) g, copying every column of the
// prototype row p except those in override, and moving its timestamps
// back g milliseconds.
func cloneSQL(ctx context.Context, conn *pgx.Conn, table string, override map[string]string) (string, error) {
	rows, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return "", err
	}
	var cols, exprs []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", err
		}
		expr := "p." + name
		if o, ok := override[name]; ok {
			expr = o
		} else if strings.HasPrefix(typ, "timestamp") {
			expr = fmt.Sprintf("p.%s - g * interval '1 millisecond'", name)
		}
		cols = append(cols, name)
		exprs = append(exprs, expr)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("preload: table public.%s not found", table)
	}
	return fmt.Sprintf(`INSERT INTO public.%s (%s) SELECT %s FROM public.%s p CROSS JOIN generate_series($2::int, $3::int) g`,
		table, strings.Join(cols, ", "), strings.Join(exprs, ", "), table), nil
}
