-- Stent schema, version 4: function versions (tasks/executions.version, workers.versions).
--
-- version is the function version (app.WithVersion) the task's function
-- had in the registry that created it; '' for an unversioned function.
-- An execution's version is its root function's. With the strict policy
-- a worker claims only the (step_name, version) pairs its registry has.
-- workers.versions is a JSON object {function: version} of the worker's
-- versioned functions; version_policy is '' (strict) or 'any'.

ALTER TABLE @tasks ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE @executions ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE @workers ADD COLUMN versions TEXT;
ALTER TABLE @workers ADD COLUMN version_policy TEXT NOT NULL DEFAULT '';
