-- One row per running replica, its heartbeat moved forward every few
-- seconds: when a replica dies the others see its heartbeat go stale and
-- release its leases at once, instead of waiting out each lease.
CREATE TABLE replicas (
    id           text PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

-- The readiness probe writes here: a committed write says events can be
-- stored again after a failed commit.
CREATE TABLE relay_probe (
    id     integer PRIMARY KEY,
    writes bigint NOT NULL
);
