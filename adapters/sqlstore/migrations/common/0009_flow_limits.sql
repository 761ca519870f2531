-- Stent schema, version 9: concurrency keys and rate limits.
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
