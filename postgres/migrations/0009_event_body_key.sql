-- A second de-duplication key derived from the signed body, for providers
-- whose delivery id comes from a header the signature does not cover: one
-- event per (provider, body_key). Empty for everything else, and then not in
-- the index, so the hot path pays for it only where it is used.
ALTER TABLE events ADD COLUMN body_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX events_provider_body_key ON events (provider, body_key) WHERE body_key <> '';
