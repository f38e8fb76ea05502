-- The signing secret of the webhook Relay registered for a connection
-- (Linear, Vercel), sealed like tokens: one per connection, found by the
-- provider's webhook id or by the connection's account.
CREATE TABLE webhook_secrets (
    connection_id TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    webhook_id    TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    ciphertext    BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhook_secrets_webhook ON webhook_secrets (provider, webhook_id);
CREATE INDEX webhook_secrets_account ON webhook_secrets (provider, account_id);
