-- Stent schema, version 8: queue pause.
--
-- A queue exists implicitly (tasks name it); a row here holds its pause
-- state. paused (0/1): the claim hands out none of the queue's tasks.
-- paused_at is when it was paused (NULL while it is not).

CREATE TABLE @queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    paused_at  {{time}},
    updated_at {{time}} NOT NULL
);
