-- Stent schema, version 12: the limit indexes cost a keyed task nothing
-- it does not use.
--
-- tasks_limited (v1) listed the live tasks of limited functions: every
-- task with a concurrency limit took an entry at dispatch, had it
-- rewritten at its claim (its state is in the index's condition) and
-- removed at its completion. No claim reads it any more (the claim learns
-- the limited functions from its own reads); only the limit-usage report
-- did, and that report now reads the live tasks through tasks_counts, as
-- its rate half always did.
--
-- tasks_concurrency now holds only function tasks, the kinds the claim's
-- keyed running count asks for, and carries the columns of that count's
-- condition, so the count reads the index alone instead of each running
-- task's row (SQLite does not count a partial index's condition as
-- covering its columns).

DROP INDEX @tasks_limited;

DROP INDEX @tasks_concurrency;
CREATE INDEX tasks_concurrency ON @tasks (concurrency_key, state, kind)
    WHERE state = 'running' AND concurrency_key <> '' AND kind IN ('orchestrator', 'activity');
