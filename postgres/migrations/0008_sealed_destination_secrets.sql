-- Destination signing secrets are sealed by the vault: secret_key_id names
-- the key, secret_sealed holds nonce || ciphertext, and secret is ''. A row
-- with secret_key_id '' still holds its secret in clear (written before
-- this version); the store seals those at start (SealPlaintextSecrets).
ALTER TABLE destinations ADD COLUMN secret_key_id text NOT NULL DEFAULT '',
    ADD COLUMN secret_sealed bytea;
