-- Stent schema, version 8: queue pause.
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
