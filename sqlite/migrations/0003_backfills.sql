-- Backfills and their per (resource, entity type) tasks. A task's cursor is
-- committed in the same transaction as the events of the page before it.

CREATE TABLE backfills (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    provider      TEXT NOT NULL,
    depth_days    INTEGER NOT NULL,
    entity_types  TEXT NOT NULL,
    since         INTEGER NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    -- connection id and parameters while active, NULL after: one active
    -- run per (connection, parameters).
    active_key    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE UNIQUE INDEX backfills_active ON backfills (active_key);
CREATE INDEX backfills_connection ON backfills (connection_id, id);

CREATE TABLE backfill_tasks (
    id               TEXT PRIMARY KEY,
    backfill_id      TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    resource_name    TEXT NOT NULL DEFAULT '',
    entity_type      TEXT NOT NULL,
    status           TEXT NOT NULL,
    cursor           TEXT NOT NULL DEFAULT '',
    pages            INTEGER NOT NULL DEFAULT 0,
    items            INTEGER NOT NULL DEFAULT 0,
    rate_limit_waits INTEGER NOT NULL DEFAULT 0,
    errors           INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    updated_at       INTEGER NOT NULL
);
CREATE INDEX backfill_tasks_backfill ON backfill_tasks (backfill_id, id);

