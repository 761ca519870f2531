-- Stent schema, version 5: fork and reset (feature 051).
--
-- forked_from names the execution a fork copied its first steps from
-- (Engine.Fork); NULL for a dispatched execution. No index: nothing
-- queries by it yet, and a lookup of one execution's forks is rare.
ALTER TABLE @executions ADD COLUMN forked_from TEXT;
