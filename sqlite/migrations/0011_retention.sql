-- Retention deletes the oldest events first: it walks them by arrival.
CREATE INDEX events_received ON events (received_at);

-- Held events of an account no connection ever claimed expire after
-- retention.held_max_age; what expired is kept here, per account, so an
-- operator can tell which accounts lost events.
CREATE TABLE held_expiries (
    provider        TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    expired         INTEGER NOT NULL,
    last_expired_at INTEGER NOT NULL,
    PRIMARY KEY (provider, account_id)
) WITHOUT ROWID;

-- The file's space is reused with auto_vacuum = INCREMENTAL. Switching an
-- existing file needs a VACUUM, which cannot run inside this migration's
-- transaction: Store.Migrate runs it once, before the migrations (see sqlite/retention.go).
