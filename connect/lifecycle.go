package connect

import (
	"context"

	"github.com/relayhq/relay"
)

// ApplyLifecycle applies what a provider's lifecycle webhook says about a
// connection: a status change (deleted installation → revoked, suspend,
// unsuspend) and resources added or removed. An account no connection
// knows is ignored (nil). It is called after the webhook was stored, so a
// failure here loses no event; it is returned for logging.
func (s *Service) ApplyLifecycle(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
	c, err := s.store.FindConnection(ctx, provider, ch.AccountID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	now := s.now()
	if ch.Status != "" && ch.Status != c.Status && c.Status != relay.ConnectionPending {
		if err := s.store.SetConnectionStatus(ctx, c.ID, ch.Status, ch.Reason, now); err != nil {
			return err
		}
		s.logger.Info("connection status changed by the provider", "connection_id", c.ID, "provider", provider,
			"from", c.Status, "to", ch.Status, "reason", ch.Reason)
		if ch.Status == relay.ConnectionRevoked && s.hooks.Revoked != nil {
			s.hooks.Revoked(ctx, c, ch.Reason)
		}
	}
	if len(ch.AddResources) > 0 || len(ch.RemoveResources) > 0 {
		for _, r := range ch.AddResources {
			r.ConnectionID, r.Provider = c.ID, provider
			if r.CreatedAt.IsZero() {
				r.CreatedAt = now
			}
		}
		if err := s.store.UpdateResources(ctx, c.ID, ch.AddResources, ch.RemoveResources, now); err != nil {
			return err
		}
		for _, r := range ch.AddResources {
			s.invalidateResource(provider, r.ExternalID)
		}
		for _, id := range ch.RemoveResources {
			s.invalidateResource(provider, id)
		}
	}
	s.Invalidate(provider, ch.AccountID)
	return nil
}
