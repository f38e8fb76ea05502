-- The readiness probe writes here (see Store.ProbeWrite). One process owns
-- a SQLite database, so unlike PostgreSQL there is no table of replicas:
-- at start-up every lease is a dead process's (Store.ReleaseAllLeases).
CREATE TABLE relay_probe (
    id     INTEGER PRIMARY KEY,
    writes INTEGER NOT NULL,
    pad    BLOB
);
