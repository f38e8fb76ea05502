-- Connect flows are bound to the browser that opened their start link, and
-- a generation counter tells every replica's match cache when connections
-- or resources changed.

ALTER TABLE oauth_states ADD COLUMN start_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_states ADD COLUMN binding_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX oauth_states_start ON oauth_states (start_hash) WHERE start_hash <> '';

-- One row: increased in the transaction of every connection change that
-- can alter how events are matched to orgs.
CREATE TABLE connection_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO connection_generation (id, generation) VALUES (1, 0);
