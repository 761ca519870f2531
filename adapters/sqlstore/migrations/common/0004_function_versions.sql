-- Stent schema, version 4: function versions (tasks/executions.version, workers.versions).
-- Reserved so parallel work merges without renumbering; the feature
-- that owns this version replaces this file's body.
SELECT 1;
