-- Stent schema, version 9: flow limits (concurrency keys and rate limits).
--
-- concurrency_key names the group a task's max_concurrent counts ('' is
-- the function's own group, its step_name). rate_key, rate_limit and
-- rate_per (microseconds) are the task's rate limit; limited_until is when
-- a pending task held back by its rate limit may be claimed again (the
-- claim skips it until then, so it blocks nothing behind it).

ALTER TABLE @tasks ADD COLUMN concurrency_key TEXT NOT NULL DEFAULT '';
ALTER TABLE @tasks ADD COLUMN rate_key TEXT NOT NULL DEFAULT '';
ALTER TABLE @tasks ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE @tasks ADD COLUMN rate_per BIGINT NOT NULL DEFAULT 0;
ALTER TABLE @tasks ADD COLUMN limited_until {{time}};

-- Running tasks per keyed concurrency group (the claim's count).
CREATE INDEX tasks_concurrency ON @tasks (concurrency_key)
    WHERE state = 'running' AND concurrency_key <> '';

-- The sliding-window log of rate limits: one row per fresh claim of a
-- rate-limited task, kept for at least its period. The claim counts a
-- group's rows in the window and prunes the older ones.
CREATE TABLE @rate_starts (
    rate_key   TEXT NOT NULL,
    started_at {{time}} NOT NULL,
    task_id    TEXT NOT NULL,
    PRIMARY KEY (rate_key, started_at, task_id)
);
