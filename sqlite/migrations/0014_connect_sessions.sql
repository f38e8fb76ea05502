-- Connect sessions: a page on Relay where a team's customer connects
-- providers to the team's org. Only the token's hash is kept; each provider
-- is connected through a session at most once (the primary key of
-- connect_session_connections).

CREATE TABLE connect_sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL,
    providers  TEXT NOT NULL,
    return_url TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX connect_sessions_expires ON connect_sessions (expires_at);

CREATE TABLE connect_session_connections (
    session_id    TEXT NOT NULL REFERENCES connect_sessions (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (session_id, provider)
);
