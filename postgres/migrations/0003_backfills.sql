-- Backfills and their per (resource, entity type) tasks. A task's cursor is
-- committed in the same transaction as the events of the page before it.

CREATE TABLE backfills (
    id            text PRIMARY KEY,
    connection_id text NOT NULL,
    org_id        text NOT NULL,
    provider      text NOT NULL,
    depth_days    integer NOT NULL,
    entity_types  text NOT NULL,
    since         timestamptz NOT NULL,
    status        text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    -- connection id and parameters while active, NULL after: one active
    -- run per (connection, parameters).
    active_key    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE UNIQUE INDEX backfills_active ON backfills (active_key);
CREATE INDEX backfills_connection ON backfills (connection_id, id);

CREATE TABLE backfill_tasks (
    id               text PRIMARY KEY,
    backfill_id      text NOT NULL,
    resource_id      text NOT NULL,
    resource_name    text NOT NULL DEFAULT '',
    entity_type      text NOT NULL,
    status           text NOT NULL,
    cursor           text NOT NULL DEFAULT '',
    pages            integer NOT NULL DEFAULT 0,
    items            integer NOT NULL DEFAULT 0,
    rate_limit_waits integer NOT NULL DEFAULT 0,
    errors           integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL
);
CREATE INDEX backfill_tasks_backfill ON backfill_tasks (backfill_id, id);

