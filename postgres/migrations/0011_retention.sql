-- Retention deletes the oldest events first: it walks them by arrival.
CREATE INDEX events_received ON events (received_at);

-- Held events of an account no connection ever claimed expire after
-- retention.held_max_age; what expired is kept here, per account, so an
-- operator can tell which accounts lost events.
CREATE TABLE held_expiries (
    provider        text NOT NULL,
    account_id      text NOT NULL,
    expired         bigint NOT NULL,
    last_expired_at timestamptz NOT NULL,
    PRIMARY KEY (provider, account_id)
);
