package relay

import (
	"context"
	"time"
)

// SealedWebhookSecret is the signing secret of the webhook Relay registered
// at a provider for one connection (a Linear workspace's webhook, a Vercel
// account's webhook), sealed at rest. Each connection has its own, so that
// an admin of one account, who can read that webhook's secret at the
// provider, cannot sign events for another account. It is never part of the
// connection's Metadata (which the API shows).
type SealedWebhookSecret struct {
	ConnectionID string
	Provider     string
	WebhookID    string // the provider's id of the webhook
	AccountID    string // the connection's ExternalID
	Sealed       Sealed
	CreatedAt    time.Time
}

// WebhookSecretStore stores the sealed per-connection webhook secrets.
// Implemented by sqlite and postgres; DeleteConnection removes a
// connection's secret and ResealAll re-encrypts them with the tokens.
type WebhookSecretStore interface {
	// PutWebhookSecret stores the connection's webhook secret, replacing any
	// it had (one per connection). ENOTFOUND when the connection does not
	// exist.
	PutWebhookSecret(ctx context.Context, s *SealedWebhookSecret) error
	// FindWebhookSecret returns the secret of the provider webhook with id
	// webhookID whose connection is live (not deleted), ENOTFOUND if none.
	FindWebhookSecret(ctx context.Context, provider, webhookID string) (*SealedWebhookSecret, error)
	// FindWebhookSecretByAccount returns the secret of the live connection
	// of a provider account, ENOTFOUND if none.
	FindWebhookSecretByAccount(ctx context.Context, provider, accountID string) (*SealedWebhookSecret, error)
}

// WebhookSecret is a connection's webhook secret, in clear. It exists in
// memory only.
type WebhookSecret struct {
	ConnectionID string
	WebhookID    string
	AccountID    string // the account the webhook's events may name
	Secret       string
}

// WebhookSecrets looks up the secrets of the webhooks Relay registered per
// connection, for verifying their deliveries. Lookups run on the ingest
// path: implementations cache.
type WebhookSecrets interface {
	// WebhookSecret returns the secret of the provider webhook with id
	// webhookID, ENOTFOUND when it is no live connection's webhook.
	WebhookSecret(ctx context.Context, provider, webhookID string) (*WebhookSecret, error)
	// WebhookSecretByAccount returns the webhook secret of the live
	// connection of a provider account, ENOTFOUND when it has none.
	WebhookSecretByAccount(ctx context.Context, provider, accountID string) (*WebhookSecret, error)
}

// ConnectionVerifier is the optional capability of providers whose
// webhooks may be signed with a per-connection secret (Linear, Vercel): the
// webhook handler calls VerifyConnection instead of Provider.Verify. secrets
// is nil when Relay runs without connections; then only the provider's
// app-level secret verifies.
type ConnectionVerifier interface {
	// VerifyConnection verifies the request as Verify does, with the secret
	// of the connection the (unverified) body names where it has one. It
	// returns an *Error with code EUNAUTHORIZED for a signature no eligible
	// secret made or a body naming another account than the signing
	// connection's, EUNAVAILABLE when the secret could not be looked up.
	VerifyConnection(ctx context.Context, req *WebhookRequest, secrets WebhookSecrets) error
}
