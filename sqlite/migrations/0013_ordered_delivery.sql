-- Ordered delivery per key. A destination's ordering names the key; each
-- delivery keeps the key it was created with ('' = unordered).
ALTER TABLE destinations ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE destinations ADD COLUMN on_dead TEXT NOT NULL DEFAULT 'skip';
ALTER TABLE deliveries ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
-- The head-of-line check: "is there an earlier undelivered delivery of this
-- (destination, key)?" is one probe into this index. Only ordered rows that
-- are not yet delivered are in it (dead ones stay, for on_dead block), so
-- unordered traffic never touches it and it stays as small as the backlog.
CREATE INDEX deliveries_order ON deliveries (destination_id, order_key, event_id)
    WHERE order_key <> '' AND status <> 'succeeded';
