-- Stent schema, version 11: one rate-log row per claim, and an index of
-- the held-back tasks.
--
-- rate_starts (v9) held one row per fresh claim of a rate-limited task:
-- a claim of k tasks inserted k rows and every claim counted the whole
-- window row by row (10,000 rows at 10,000 starts/s). rate_log holds one
-- row per claim, rate group, function and queue, with the number of
-- starts it charged (starts): the claim inserts one row and sums a few.
-- The row keeps the function, queue, limit and period of its starts, so
-- the limit usage no longer joins the tasks, and starts whose tasks
-- retention removed still show (the claim always counted them).
--
-- tasks_held: the pending tasks a rate limit holds back, by the time they
-- may be claimed again (the worker's next-wake read takes the first one;
-- before, it walked every pending task).

CREATE TABLE @rate_log (
    rate_key   TEXT NOT NULL,
    started_at {{time}} NOT NULL,
    step_name  TEXT NOT NULL,
    queue      TEXT NOT NULL,
    rate_limit INTEGER NOT NULL,
    rate_per   BIGINT NOT NULL,
    starts     INTEGER NOT NULL,
    PRIMARY KEY (rate_key, started_at, step_name, queue)
);

-- A start whose task retention already removed takes its function, queue,
-- limit and period from a task of its group that is still there (the
-- claim counts it either way).
INSERT INTO @rate_log (rate_key, started_at, step_name, queue, rate_limit, rate_per, starts)
SELECT rate_key, started_at, step_name, queue, MAX(rate_limit), MAX(rate_per), COUNT(*)
FROM (
    SELECT rs.rate_key, rs.started_at,
           COALESCE(tk.step_name, g.step_name, '') AS step_name,
           COALESCE(tk.queue, g.queue, '') AS queue,
           COALESCE(tk.rate_limit, g.rate_limit, 0) AS rate_limit,
           COALESCE(tk.rate_per, g.rate_per, 0) AS rate_per
    FROM @rate_starts rs
    LEFT JOIN @tasks tk ON tk.id = rs.task_id
    LEFT JOIN (
        SELECT rate_key, MAX(step_name) AS step_name, MAX(queue) AS queue,
               MAX(rate_limit) AS rate_limit, MAX(rate_per) AS rate_per
        FROM @tasks WHERE rate_key <> '' GROUP BY rate_key
    ) g ON g.rate_key = rs.rate_key
) s
GROUP BY rate_key, started_at, step_name, queue;

DROP TABLE @rate_starts;

CREATE INDEX tasks_held ON @tasks (limited_until)
    WHERE state = 'pending' AND limited_until IS NOT NULL;
