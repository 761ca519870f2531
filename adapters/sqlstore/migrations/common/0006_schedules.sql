-- Stent schema, version 6: cron schedules.
--
-- One row per schedule. next_tick is the next tick not yet handled; every
-- worker that finds it due fires it under a deterministic execution id and
-- advances it with a compare-and-set on version, so a tick fires once
-- whatever the number of workers. catch_up is "skip", "once" or "all:N";
-- overlap "allow", "skip" or "queue_one"; paused is 0/1.

CREATE TABLE @schedules (
    name              TEXT PRIMARY KEY,
    cron_spec         TEXT NOT NULL,
    time_zone         TEXT NOT NULL DEFAULT '',
    function_name     TEXT NOT NULL,
    input             {{bytes}},
    catch_up          TEXT NOT NULL,
    overlap           TEXT NOT NULL,
    paused            INTEGER NOT NULL DEFAULT 0,
    next_tick         {{time}} NOT NULL,
    last_tick         {{time}},
    last_execution_id TEXT NOT NULL DEFAULT '',
    version           INTEGER NOT NULL,
    created_at        {{time}} NOT NULL,
    updated_at        {{time}} NOT NULL
);

-- DueSchedules: unpaused schedules in next-tick order.
CREATE INDEX schedules_due ON @schedules (next_tick) WHERE paused = 0;
