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
		plain, err := s.sealer.Open(sealed.Sealed, relay.WebhookSecretAD(sealed.ConnectionID))
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
	sealed, err := s.sealer.Seal([]byte(secret), relay.WebhookSecretAD(c.ID))
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
// provider's shared secret until UpgradeWebhookSecrets replaces them or the
// connection is connected again.
func (s *Service) SharedSecretWebhooks(ctx context.Context, provider string) (int, error) {
	cs, err := s.sharedSecretWebhooks(ctx, provider)
	return len(cs), err
}

func (s *Service) sharedSecretWebhooks(ctx context.Context, provider string) ([]*relay.Connection, error) {
	cs, err := s.store.ListConnections(ctx, relay.ConnectionFilter{Provider: provider})
	if err != nil {
		return nil, err
	}
	var out []*relay.Connection
	for _, c := range cs {
		id := c.Metadata["webhook_id"]
		if id == "" || c.Teardown != "" {
			continue
		}
		_, err := s.store.FindWebhookSecret(ctx, provider, id)
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			out = append(out, c)
		} else if err != nil {
			return out, err
		}
	}
	return out, nil
}

// UpgradeWebhookSecrets replaces every shared-secret webhook of an active
// connection (see SharedSecretWebhooks) with a new one that has its own
// secret: it registers the new webhook, stores its secret, records its id,
// then removes the old one. It returns how many it replaced; a connection
// that fails is logged and left as it was (its old webhook keeps working),
// to be tried again by the next run. Run it from one process at a time:
// two runs at once could each register a webhook for the same connection.
func (s *Service) UpgradeWebhookSecrets(ctx context.Context) (int, error) {
	n := 0
	for provider, conn := range s.connectors {
		reg, ok := conn.(relay.WebhookRegistrar)
		if !ok {
			continue
		}
		cs, err := s.sharedSecretWebhooks(ctx, provider)
		if err != nil {
			return n, err
		}
		for _, c := range cs {
			if c.Status != relay.ConnectionActive {
				continue // no API calls for it; it is replaced when connected again
			}
			if err := s.upgradeWebhook(ctx, reg, c); err != nil {
				s.logger.Warn("connect: replacing a shared-secret webhook failed", "connection_id", c.ID, "provider", provider, "err", err)
				continue
			}
			n++
		}
	}
	return n, nil
}

func (s *Service) upgradeWebhook(ctx context.Context, reg relay.WebhookRegistrar, c *relay.Connection) error {
	tok, err := s.Token(ctx, c.ID, "")
	if err != nil {
		return err
	}
	old := c.Metadata["webhook_id"]
	id, secret, err := reg.RegisterWebhook(ctx, c, tok, s.cfg.PublicURL+"/webhooks/"+c.Provider)
	if err != nil {
		return err
	}
	undo := func(cause error) error {
		if derr := reg.DeregisterWebhook(ctx, c, tok, id); derr != nil {
			s.logger.Warn("connect: removing the webhook just registered failed", "connection_id", c.ID, "err", derr)
		}
		return cause
	}
	if secret == "" {
		return undo(relay.Errorf(relay.EUNAVAILABLE, "%s: the new webhook has no secret", c.Provider))
	}
	if err := s.storeWebhookSecret(ctx, c, id, secret); err != nil {
		return undo(err)
	}
	if err := s.store.SetConnectionMetadata(ctx, c.ID, map[string]string{"webhook_id": id, "webhook_error": ""}, s.now()); err != nil {
		return undo(err)
	}
	if err := reg.DeregisterWebhook(ctx, c, tok, old); err != nil {
		// Both deliver until it is removed at the provider; the old one's
		// deliveries still verify with the shared secret.
		s.logger.Warn("connect: removing the shared-secret webhook failed; remove it at the provider",
			"connection_id", c.ID, "provider", c.Provider, "webhook_id", old, "err", err)
	}
	s.logger.Info("webhook replaced by one with its own secret", "connection_id", c.ID, "provider", c.Provider)
	return nil
}
