-- The latest resolution of each provider account whose events were held
-- (identity repair): its outcome, the org found, and how often it ran.

CREATE TABLE resolutions (
    provider      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    org_id        TEXT NOT NULL DEFAULT '',
    connection_id TEXT NOT NULL DEFAULT '',
    candidates    TEXT NOT NULL DEFAULT '[]',
    resolver      TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 1,
    last_error    TEXT NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (provider, account_id)
) WITHOUT ROWID;
CREATE INDEX resolutions_updated ON resolutions (updated_at);
