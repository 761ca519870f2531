-- Stent schema, version 7: singleton and debounce keys.
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
