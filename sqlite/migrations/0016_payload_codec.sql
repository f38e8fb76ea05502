-- How an event's payload is stored: 0 as received, 1 as an S2 block with
-- the payload's CRC-32C. Rows written before this column existed read as
-- 0, so they stay readable as they are.
ALTER TABLE events ADD COLUMN payload_codec INTEGER NOT NULL DEFAULT 0;
