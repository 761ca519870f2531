-- Stent schema, version 5: fork and reset (executions.forked_from).
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
