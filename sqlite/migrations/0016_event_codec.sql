-- How an event's headers and payload are stored: 0 as received (headers as
-- JSON text, payload as the body's bytes), 1 each a zstd frame. Rows written
-- before this column existed read as 0, so they stay readable as they are.
ALTER TABLE events ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
