-- Times are unix milliseconds (INTEGER); booleans are 0/1.

CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    source        TEXT NOT NULL,
    account_id    TEXT NOT NULL DEFAULT '',
    resource_id   TEXT NOT NULL DEFAULT '',
    org_id        TEXT NOT NULL DEFAULT '',
    connection_id TEXT NOT NULL DEFAULT '',
    headers       TEXT NOT NULL DEFAULT '{}',
    payload       BLOB NOT NULL,
    received_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_provider_delivery ON events (provider, delivery_id);
CREATE INDEX events_org ON events (org_id, id) WHERE org_id <> '';

CREATE TABLE destinations (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    providers       TEXT NOT NULL DEFAULT '[]',
    event_types     TEXT NOT NULL DEFAULT '[]',
    org_id          TEXT NOT NULL DEFAULT '',
    max_concurrency INTEGER NOT NULL,
    timeout_ms      INTEGER NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT NOT NULL DEFAULT '',
    paused_until    INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX destinations_live_name ON destinations (name) WHERE deleted_at IS NULL;

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    destination_id  TEXT NOT NULL,
    status          TEXT NOT NULL,
    source          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    step            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination_id);
-- The queue: only undelivered rows are in this index, so it stays small.
-- Claims read it one destination at a time, so a paused or disabled
-- destination's backlog is never scanned.
CREATE INDEX deliveries_due ON deliveries (destination_id, next_attempt_at) WHERE status IN ('pending', 'retrying');
-- Replaying a destination's dead deliveries is the one query by destination
-- that must be fast; indexing only dead rows keeps the hot path (insert
-- pending, update to succeeded) off this index entirely.
CREATE INDEX deliveries_dead ON deliveries (destination_id, created_at) WHERE status = 'dead';

CREATE TABLE attempts (
    delivery_id   TEXT NOT NULL,
    n             INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    status_code   INTEGER NOT NULL,
    latency_us    INTEGER NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    response_body TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
