-- The secret a destination's last rotation replaced, sealed like secret
-- (previous_secret holds it in clear only for a store without a sealer):
-- deliveries are signed with it too until previous_secret_until (ms; 0 =
-- no previous secret), so consumers can switch secrets without a gap.
ALTER TABLE destinations ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE destinations ADD COLUMN previous_secret_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE destinations ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE destinations ADD COLUMN previous_secret_until INTEGER NOT NULL DEFAULT 0;
