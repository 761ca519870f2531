-- Stent schema, version 3: suspension (parked tasks), the recovery budget
-- and the worker registry.
--
-- recoveries counts the reclaims after a lost lease, apart from attempt.
-- A parked task is in state 'waiting' with no lease; wake_at is when it
-- becomes claimable again (NULL while it waits for children or a signal
-- only), and awaited (0/1) marks the steps a parked parent waits for.

ALTER TABLE @tasks ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE @tasks ADD COLUMN wake_at {{time}};
ALTER TABLE @tasks ADD COLUMN awaited INTEGER NOT NULL DEFAULT 0;

-- Due waiting tasks in wake order: the claim's resume stream and NextWake.
CREATE INDEX tasks_wake ON @tasks (wake_at) WHERE state = 'waiting';
-- The awaited steps of a parent: does a live one remain (the wake check),
-- and which flags a new park must clear. Only parked parents' steps are in
-- it, so the claim and completion of other tasks never touch it.
CREATE INDEX tasks_awaited ON @tasks (parent_task_id, state) WHERE awaited = 1;

CREATE TABLE @workers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    host         TEXT NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    process      TEXT NOT NULL DEFAULT '',
    queues       TEXT,
    functions    TEXT,
    state        TEXT NOT NULL,
    started_at   {{time}} NOT NULL,
    heartbeat_at {{time}} NOT NULL,
    stopped_at   {{time}}
);

-- ExpireWorkers: live workers whose heartbeat is older than a bound.
CREATE INDEX workers_live_heartbeat ON @workers (heartbeat_at) WHERE state = 'live';
