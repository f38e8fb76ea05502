-- Orgs, connections and their resources and sealed tokens, pending OAuth
-- states; events remember whether their account was matched to an org.

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per provider account, ever: a reconnect revives the row.
CREATE TABLE connections (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    provider         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    account_name     TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    status_reason    TEXT NOT NULL DEFAULT '',
    metadata         TEXT NOT NULL DEFAULT '{}',
    token_expires_at INTEGER NOT NULL DEFAULT 0,
    teardown         TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
CREATE UNIQUE INDEX connections_account ON connections (provider, external_id);
CREATE INDEX connections_org ON connections (org_id, id);

CREATE TABLE resources (
    connection_id TEXT NOT NULL,
    provider      TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER,
    PRIMARY KEY (connection_id, external_id)
) WITHOUT ROWID;
CREATE INDEX resources_route ON resources (provider, external_id) WHERE deleted_at IS NULL;

CREATE TABLE tokens (
    connection_id TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    ciphertext    BLOB NOT NULL,
    expires_at    INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE oauth_states (
    state         TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    return_url    TEXT NOT NULL,
    code_verifier TEXT NOT NULL DEFAULT '',
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

ALTER TABLE events ADD COLUMN match TEXT NOT NULL DEFAULT '';
CREATE INDEX events_unmatched ON events (provider, account_id, id) WHERE match = 'unmatched';
