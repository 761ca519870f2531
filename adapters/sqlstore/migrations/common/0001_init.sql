-- Stent schema, version 1 (SPEC §8.1).
--
-- Markers: @name is a table of the store's schema; {{time}}, {{bytes}} and
-- {{float}} are the dialect's column types (SQLite: INTEGER microseconds
-- since the Unix epoch, BLOB, REAL; PostgreSQL: timestamptz, bytea, double
-- precision). JSON payloads are {{bytes}} and kept byte for byte; Stent's
-- own JSON (errors, tags, retry policies, trace context, snapshots) is TEXT.

CREATE TABLE @executions (
    id              TEXT PRIMARY KEY,
    root_function   TEXT NOT NULL,
    root_task_id    TEXT NOT NULL,
    state           TEXT NOT NULL,
    input           {{bytes}},
    result          {{bytes}},
    error           TEXT,
    idempotency_key TEXT,
    tags            TEXT,
    priority        INTEGER NOT NULL DEFAULT 0,
    queue           TEXT NOT NULL DEFAULT '',
    scheduled_for   {{time}},
    deadline        {{time}},
    created_at      {{time}} NOT NULL,
    updated_at      {{time}} NOT NULL,
    started_at      {{time}},
    finished_at     {{time}}
);

CREATE UNIQUE INDEX executions_idempotency_key ON @executions (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_state_created ON @executions (state, created_at);
CREATE INDEX executions_state_deadline ON @executions (state, deadline) WHERE deadline IS NOT NULL;
CREATE INDEX executions_created ON @executions (created_at, id);
CREATE INDEX executions_finished ON @executions (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE @tasks (
    id                TEXT PRIMARY KEY,
    execution_id      TEXT NOT NULL,
    parent_task_id    TEXT,
    position          INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    step_name         TEXT NOT NULL,
    state             TEXT NOT NULL,
    input             {{bytes}},
    result            {{bytes}},
    error             TEXT,
    last_error        TEXT,
    attempt           INTEGER NOT NULL DEFAULT 0,
    generation        INTEGER NOT NULL DEFAULT 0,
    parent_generation INTEGER NOT NULL DEFAULT 0,
    retry_policy      TEXT,
    max_concurrent    INTEGER NOT NULL DEFAULT 0,
    tags              TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    queue             TEXT NOT NULL DEFAULT '',
    idempotency_key   TEXT,
    link_owner_id     TEXT,
    cache_key         TEXT,
    scheduled_for     {{time}},
    worker_id         TEXT,
    claim_token       TEXT,
    lease_expires_at  {{time}},
    deadline          {{time}},
    trace_context     TEXT,
    created_at        {{time}} NOT NULL,
    updated_at        {{time}} NOT NULL,
    started_at        {{time}},
    finished_at       {{time}}
);

-- Claim order over pending claimable tasks.
CREATE INDEX tasks_claim ON @tasks (priority DESC, created_at, id)
    WHERE state = 'pending' AND kind IN ('orchestrator', 'activity');
-- Expired leases.
CREATE INDEX tasks_lease ON @tasks (lease_expires_at) WHERE state = 'running';
-- Running counts per function (limits) and listing by step.
CREATE INDEX tasks_step_state ON @tasks (step_name, state);
-- Live limited functions (which claim locks to take).
CREATE INDEX tasks_limited ON @tasks (step_name)
    WHERE max_concurrent > 0 AND state IN ('pending', 'running');
CREATE INDEX tasks_execution ON @tasks (execution_id, state);
CREATE UNIQUE INDEX tasks_parent_position ON @tasks (parent_task_id, position);
CREATE INDEX tasks_link_owner ON @tasks (link_owner_id) WHERE link_owner_id IS NOT NULL;
CREATE UNIQUE INDEX tasks_idempotency_key ON @tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- CountTasks.
CREATE INDEX tasks_counts ON @tasks (state, queue, kind);

CREATE TABLE @signals (
    execution_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    payload      {{bytes}},
    consumed_by  TEXT,
    created_at   {{time}} NOT NULL,
    consumed_at  {{time}},
    PRIMARY KEY (execution_id, name, seq)
);

CREATE INDEX signals_unconsumed ON @signals (execution_id, name, seq) WHERE consumed_by IS NULL;
CREATE INDEX signals_created ON @signals (created_at);

CREATE TABLE @dead_tasks (
    task_id      TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    step_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    queue        TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    code         TEXT NOT NULL DEFAULT '',
    error        TEXT,
    snapshot     TEXT NOT NULL,
    moved_at     {{time}} NOT NULL
);

CREATE INDEX dead_tasks_moved ON @dead_tasks (moved_at, task_id);
CREATE INDEX dead_tasks_execution ON @dead_tasks (execution_id);

CREATE TABLE @cache (
    key        TEXT PRIMARY KEY,
    value      {{bytes}},
    expires_at {{time}},
    created_at {{time}} NOT NULL
);

CREATE INDEX cache_expires ON @cache (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE @idempotency (
    key        TEXT PRIMARY KEY,
    value      {{bytes}},
    created_at {{time}} NOT NULL
);

CREATE TABLE @execution_counters (
    execution_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        {{float}} NOT NULL,
    PRIMARY KEY (execution_id, key)
);

CREATE TABLE @execution_state (
    execution_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        {{bytes}},
    PRIMARY KEY (execution_id, key)
);

CREATE TABLE @functions (
    name         TEXT PRIMARY KEY,
    options      TEXT NOT NULL,
    version      TEXT NOT NULL DEFAULT '',
    last_seen_at {{time}} NOT NULL
);
