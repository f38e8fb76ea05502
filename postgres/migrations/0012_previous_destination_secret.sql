-- The secret a destination's last rotation replaced, sealed like secret
-- (previous_secret holds it in clear only for a store without a sealer):
-- deliveries are signed with it too until previous_secret_until (epoch =
-- no previous secret), so consumers can switch secrets without a gap.
ALTER TABLE destinations ADD COLUMN previous_secret text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_key_id text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_sealed bytea,
    ADD COLUMN previous_secret_until timestamptz NOT NULL DEFAULT 'epoch';
