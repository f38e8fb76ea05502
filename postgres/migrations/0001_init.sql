CREATE TABLE events (
    id            text PRIMARY KEY,
    provider      text NOT NULL,
    delivery_id   text NOT NULL,
    event_type    text NOT NULL,
    source        text NOT NULL,
    account_id    text NOT NULL DEFAULT '',
    resource_id   text NOT NULL DEFAULT '',
    org_id        text NOT NULL DEFAULT '',
    connection_id text NOT NULL DEFAULT '',
    headers       text NOT NULL DEFAULT '{}',
    payload       bytea NOT NULL, -- the provider's bytes, exactly
    received_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX events_provider_delivery ON events (provider, delivery_id);
CREATE INDEX events_org ON events (org_id, id) WHERE org_id <> '';

CREATE TABLE destinations (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    url             text NOT NULL,
    secret          text NOT NULL,
    providers       text NOT NULL DEFAULT '[]',
    event_types     text NOT NULL DEFAULT '[]',
    org_id          text NOT NULL DEFAULT '',
    max_concurrency integer NOT NULL,
    timeout_ms      bigint NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    disabled_reason text NOT NULL DEFAULT '',
    paused_until    timestamptz NOT NULL DEFAULT 'epoch', -- epoch = not paused
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX destinations_live_name ON destinations (name) WHERE deleted_at IS NULL;

CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    event_id        text NOT NULL,
    destination_id  text NOT NULL,
    status          text NOT NULL,
    source          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    step            integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text NOT NULL DEFAULT '',
    lease_until     timestamptz NOT NULL DEFAULT 'epoch', -- epoch = no lease
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination_id);
-- The queue: only undelivered rows are in this index.
-- Claims read it one destination at a time, so a paused or disabled
-- destination's backlog is never scanned.
CREATE INDEX deliveries_due ON deliveries (destination_id, next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_dead ON deliveries (destination_id, created_at) WHERE status = 'dead';

CREATE TABLE attempts (
    delivery_id   text NOT NULL,
    n             integer NOT NULL,
    started_at    timestamptz NOT NULL,
    status_code   integer NOT NULL,
    latency_us    bigint NOT NULL,
    error         text NOT NULL DEFAULT '',
    response_body text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    org_id     text NOT NULL DEFAULT '',
    name       text NOT NULL,
    hash       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
