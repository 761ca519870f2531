-- Stent schema, version 2: fewer index entries per task state change.
--
-- PostgreSQL writes a new entry in every index of a row (whose predicate it
-- matches) on each state change, so each full index costs every claim and
-- completion. Running counts per function only ever look at running tasks,
-- and root tasks have no parent position.

DROP INDEX @tasks_step_state;
CREATE INDEX tasks_running_step ON @tasks (step_name) WHERE state = 'running';

DROP INDEX @tasks_parent_position;
CREATE UNIQUE INDEX tasks_parent_position ON @tasks (parent_task_id, position)
    WHERE parent_task_id IS NOT NULL;
