-- Stent schema, version 6: cron schedules.
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
