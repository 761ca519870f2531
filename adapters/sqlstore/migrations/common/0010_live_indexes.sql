-- Stent schema, version 10: finished rows leave the state indexes.
--
-- A task or execution that finishes is never read again through its state
-- index on a hot path (claims, leases, wake-ups, cancellation and the
-- live-listing of executions all ask for live states), but a full index
-- takes a new entry on every state change, the last one included, and
-- grows with the history. Both state indexes now hold live rows only: a
-- completion writes no entry in them, and their size follows the live work
-- rather than the table. Counting or listing finished rows by state reads
-- the table (CountTasks, CountExecutionsByState) or walks executions_created
-- (ListExecutions, newest first), as it did for the other filters.

DROP INDEX @tasks_counts;
CREATE INDEX tasks_counts ON @tasks (state, queue, kind)
    WHERE state IN ('pending', 'running', 'waiting');

DROP INDEX @executions_state_created;
CREATE INDEX executions_state_created ON @executions (state, created_at)
    WHERE state IN ('pending', 'running');
