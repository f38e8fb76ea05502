-- Connect sessions: a page on Relay where a team's customer connects
-- providers to the team's org. Only the token's hash is kept; each provider
-- is connected through a session at most once (the primary key of
-- connect_session_connections).

CREATE TABLE connect_sessions (
    id         text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    org_id     text NOT NULL,
    providers  text NOT NULL,
    return_url text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX connect_sessions_expires ON connect_sessions (expires_at);

CREATE TABLE connect_session_connections (
    session_id    text NOT NULL REFERENCES connect_sessions (id) ON DELETE CASCADE,
    provider      text NOT NULL,
    connection_id text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (session_id, provider)
);
