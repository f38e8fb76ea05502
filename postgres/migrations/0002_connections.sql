-- Orgs, connections and their resources and sealed tokens, pending OAuth
-- states; events remember whether their account was matched to an org.

CREATE TABLE orgs (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

-- One row per provider account, ever: a reconnect revives the row.
CREATE TABLE connections (
    id               text PRIMARY KEY,
    org_id           text NOT NULL,
    provider         text NOT NULL,
    external_id      text NOT NULL,
    account_name     text NOT NULL DEFAULT '',
    status           text NOT NULL,
    status_reason    text NOT NULL DEFAULT '',
    metadata         text NOT NULL DEFAULT '{}',
    token_expires_at timestamptz NOT NULL DEFAULT 'epoch', -- epoch = no expiry / no token
    teardown         text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);
CREATE UNIQUE INDEX connections_account ON connections (provider, external_id);
CREATE INDEX connections_org ON connections (org_id, id);

CREATE TABLE resources (
    connection_id text NOT NULL,
    provider      text NOT NULL,
    external_id   text NOT NULL,
    kind          text NOT NULL,
    name          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    PRIMARY KEY (connection_id, external_id)
);
CREATE INDEX resources_route ON resources (provider, external_id) WHERE deleted_at IS NULL;

CREATE TABLE tokens (
    connection_id text PRIMARY KEY,
    key_id        text NOT NULL,
    ciphertext    bytea NOT NULL,
    expires_at    timestamptz NOT NULL DEFAULT 'epoch',
    version       bigint NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE oauth_states (
    state         text PRIMARY KEY,
    provider      text NOT NULL,
    org_id        text NOT NULL,
    return_url    text NOT NULL,
    code_verifier text NOT NULL DEFAULT '',
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL
);

ALTER TABLE events ADD COLUMN match text NOT NULL DEFAULT '';
CREATE INDEX events_unmatched ON events (provider, account_id, id) WHERE match = 'unmatched';
