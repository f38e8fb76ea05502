package connect

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/relayhq/relay"
)

var _ relay.WebhookSecrets = (*Service)(nil)

// secretKey is a cached secret lookup: by webhook id ("w") or account ("a").
type secretKey struct {
	kind, provider, id string
}

type secretEntry struct {
	secret *relay.WebhookSecret // nil: none
	until  time.Time
}

// secretCache sits in front of the store on the ingest path, like
// matchCache: every webhook of a provider with per-connection secrets looks
// one up before it is verified.
type secretCache struct {
	mu      sync.RWMutex
	entries map[secretKey]secretEntry
}

// WebhookSecret returns the secret of the provider webhook with id
// webhookID, from the cache or the store. It returns ENOTFOUND when no live
// connection registered that webhook, and the store's or the sealer's error
// when the lookup failed.
func (s *Service) WebhookSecret(ctx context.Context, provider, webhookID string) (*relay.WebhookSecret, error) {
	return s.webhookSecret(ctx, secretKey{"w", provider, webhookID})
}

// WebhookSecretByAccount returns the webhook secret of the live connection
// of a provider account. Errors as WebhookSecret's.
func (s *Service) WebhookSecretByAccount(ctx context.Context, provider, accountID string) (*relay.WebhookSecret, error) {
	return s.webhookSecret(ctx, secretKey{"a", provider, accountID})
}

func (s *Service) webhookSecret(ctx context.Context, k secretKey) (*relay.WebhookSecret, error) {
	notFound := func() error { return relay.Errorf(relay.ENOTFOUND, "no %s webhook secret for %s", k.provider, k.id) }
	if k.id == "" {
		return nil, notFound()
	}
	now := s.now()
	s.secrets.mu.RLock()
	e, ok := s.secrets.entries[k]
	s.secrets.mu.RUnlock()
	if ok && now.Before(e.until) {
		if e.secret == nil {
			return nil, notFound()
		}
		return e.secret, nil
	}
	var sealed *relay.SealedWebhookSecret
	var err error
	if k.kind == "w" {
		sealed, err = s.store.FindWebhookSecret(ctx, k.provider, k.id)
	} else {
		sealed, err = s.store.FindWebhookSecretByAccount(ctx, k.provider, k.id)
	}
	switch {
	case err == nil:
		plain, err := s.sealer.Open(sealed.Sealed)
		if err != nil {
			return nil, fmt.Errorf("connect: open webhook secret of %s: %w", sealed.ConnectionID, err)
		}
		e = secretEntry{until: now.Add(s.cfg.PositiveTTL), secret: &relay.WebhookSecret{
			ConnectionID: sealed.ConnectionID, WebhookID: sealed.WebhookID, AccountID: sealed.AccountID, Secret: string(plain)}}
	case relay.ErrorCode(err) == relay.ENOTFOUND:
		e = secretEntry{until: now.Add(s.cfg.NegativeTTL)}
	default:
		return nil, err // not cached: the next webhook tries again
	}
	s.secrets.mu.Lock()
	if len(s.secrets.entries) >= maxCacheEntries {
		s.secrets.entries = map[secretKey]secretEntry{}
	}
	s.secrets.entries[k] = e
	s.secrets.mu.Unlock()
	if e.secret == nil {
		return nil, notFound()
	}
	return e.secret, nil
}

// invalidateSecrets forgets the cached secrets of a connection and what is
// cached about its account and webhook (including "none").
func (s *Service) invalidateSecrets(provider, accountID, connectionID, webhookID string) {
	s.secrets.mu.Lock()
	defer s.secrets.mu.Unlock()
	delete(s.secrets.entries, secretKey{"a", provider, accountID})
	if webhookID != "" {
		delete(s.secrets.entries, secretKey{"w", provider, webhookID})
	}
	for k, e := range s.secrets.entries {
		if e.secret != nil && e.secret.ConnectionID == connectionID {
			delete(s.secrets.entries, k)
		}
	}
}

// storeWebhookSecret seals and stores the secret of the webhook just
// registered for c.
func (s *Service) storeWebhookSecret(ctx context.Context, c *relay.Connection, webhookID, secret string) error {
	sealed, err := s.sealer.Seal([]byte(secret))
	if err != nil {
		return fmt.Errorf("connect: seal webhook secret: %w", err)
	}
	err = s.store.PutWebhookSecret(ctx, &relay.SealedWebhookSecret{ConnectionID: c.ID, Provider: c.Provider,
		WebhookID: webhookID, AccountID: c.ExternalID, Sealed: sealed, CreatedAt: s.now()})
	s.invalidateSecrets(c.Provider, c.ExternalID, c.ID, webhookID)
	return err
}

// SharedSecretWebhooks counts the live connections of provider whose
// webhook Relay registered but holds no secret of its own for: webhooks
// registered before secrets were kept per connection, signed with the
// provider's shared secret until the connection is connected again.
func (s *Service) SharedSecretWebhooks(ctx context.Context, provider string) (int, error) {
	cs, err := s.store.ListConnections(ctx, relay.ConnectionFilter{Provider: provider})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cs {
		id := c.Metadata["webhook_id"]
		if id == "" {
			continue
		}
		_, err := s.store.FindWebhookSecret(ctx, provider, id)
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			n++
		} else if err != nil {
			return n, err
		}
	}
	return n, nil
}
