-- Stent schema, version 13: a task's state change leaves tasks_execution
-- alone.
--
-- tasks_execution was (execution_id, state): every claim and every
-- completion moved the task's entry (on SQLite, a delete and an insert in
-- the index, on top of the row's own write). Its readers want an
-- execution's tasks: listing and showing them, repairing and copying them,
-- deleting them with their execution, and cancelling the live ones. None is
-- on the hot path, and an execution's tasks are few to read. The index is
-- now (execution_id), which no state change touches.
--
-- Delivering a signal looked up the execution's pending signal step
-- through that index. tasks_signal_waits holds those steps alone, so
-- delivery still reads one entry however many steps the execution has
-- run.

DROP INDEX @tasks_execution;
CREATE INDEX tasks_execution ON @tasks (execution_id);

CREATE INDEX tasks_signal_waits ON @tasks (execution_id, step_name, created_at, id)
    WHERE kind = 'signal' AND state = 'pending';
