-- API keys keep the start of the key, to tell them apart in listings
-- (keys made before have none), and when each was last used (written
-- about once a minute per key).
ALTER TABLE api_keys ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
