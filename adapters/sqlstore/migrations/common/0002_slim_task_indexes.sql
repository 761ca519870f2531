-- Stent schema, version 2: fewer index entries per task state change.
--
-- PostgreSQL writes a new entry in every index of a row (whose predicate it
-- matches) on each state change, so each full index costs every claim and
-- completion. Running counts per function (concurrency limits) read the
-- running tasks through tasks_lease, whose predicate is state = 'running'
-- (running tasks are few: at most the workers' slots), and root tasks have
-- no parent position.

DROP INDEX @tasks_step_state;

DROP INDEX @tasks_parent_position;
CREATE UNIQUE INDEX tasks_parent_position ON @tasks (parent_task_id, position)
    WHERE parent_task_id IS NOT NULL;
