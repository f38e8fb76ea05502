package connect

import (
	"context"
	"time"

	"github.com/relayhq/relay"
)

// ApplyLifecycle acts on a provider's lifecycle webhook (an uninstall, a
// suspension, repositories added, …) about a connection: it asks the
// provider what is true (relay.LifecycleConfirmer) and applies the
// provider's answer, never the webhook's claim, which may have been forged
// from a captured body and unsigned headers. An account no connection
// knows is ignored (nil), and so is a provider whose connector cannot
// confirm (no change from its webhooks at all).
//
// When the provider cannot be asked, nothing changes: with a queue
// (Config.EnqueueLifecycle) the confirmation is queued as a durable job, to be
// retried with backoff, and ApplyLifecycle returns nil; without one the
// error is returned, for logging. It is called after the webhook was
// stored, so a failure here loses no event.
func (s *Service) ApplyLifecycle(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
	err := s.confirmLifecycle(ctx, provider, ch)
	if err == nil || !retryable(err) || s.enqueueLifecycle == nil {
		return err
	}
	s.logger.Warn("connect: lifecycle webhook not confirmed yet; retrying later", "provider", provider,
		"account_id", ch.AccountID, "err", err)
	// The confirmation may have failed because ctx ran out: queuing must
	// not fail for the same reason.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.enqueueLifecycle(qctx, provider, ch)
}

// RunLifecycle confirms a lifecycle webhook's claim with the provider and
// applies the answer (the durable job's body). It returns an error when
// trying again later may succeed (the provider or the store failed); a
// provider refusing the question is logged and not retried.
func (s *Service) RunLifecycle(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
	err := s.confirmLifecycle(ctx, provider, ch)
	if err != nil && !retryable(err) {
		s.logger.Warn("connect: lifecycle webhook could not be confirmed; dropped", "provider", provider,
			"account_id", ch.AccountID, "err", err)
		return nil
	}
	return err
}

// retryable reports whether a failed confirmation may succeed later: all
// but the provider refusing the question (EINVALID), which asking again
// does not change.
func retryable(err error) bool {
	return relay.ErrorCode(err) != relay.EINVALID
}

func (s *Service) confirmLifecycle(ctx context.Context, provider string, claim *relay.LifecycleChange) error {
	c, err := s.store.FindConnection(ctx, provider, claim.AccountID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	conf, ok := s.connectors[provider].(relay.LifecycleConfirmer)
	if !ok {
		// A webhook's word alone is not enough to change a connection.
		s.logger.Info("lifecycle webhook not applied: the provider cannot be asked to confirm it",
			"connection_id", c.ID, "provider", provider)
		return nil
	}
	ch, err := conf.ConfirmLifecycle(ctx, c, s.lifecycleToken(ctx, c), claim)
	if err != nil || ch == nil {
		return err
	}
	s.logger.Info("lifecycle webhook checked with the provider", "connection_id", c.ID, "provider", provider,
		"claimed_status", claim.Status, "provider_status", ch.Status)
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
	add, remove := ch.AddResources, ch.RemoveResources
	if ch.Resources != nil {
		if add, remove, err = s.resourceDiff(ctx, c.ID, ch.Resources); err != nil {
			return err
		}
	}
	if len(add) > 0 || len(remove) > 0 {
		for _, r := range add {
			r.ConnectionID, r.Provider = c.ID, provider
			if r.CreatedAt.IsZero() {
				r.CreatedAt = now
			}
		}
		if err := s.store.UpdateResources(ctx, c.ID, add, remove, now); err != nil {
			return err
		}
		for _, r := range add {
			s.invalidateResource(provider, r.ExternalID)
		}
		for _, id := range remove {
			s.invalidateResource(provider, id)
		}
		s.logger.Info("connection resources changed by the provider", "connection_id", c.ID, "provider", provider,
			"added", len(add), "removed", len(remove))
	}
	s.Invalidate(provider, c.ExternalID)
	return nil
}

// resourceDiff compares the provider's list of a connection's resources
// with the stored one: the resources to add and the ids to remove.
func (s *Service) resourceDiff(ctx context.Context, connectionID string, at []*relay.Resource) (add []*relay.Resource, remove []string, err error) {
	stored, err := s.store.ListResources(ctx, connectionID)
	if err != nil {
		return nil, nil, err
	}
	have := make(map[string]bool, len(stored))
	for _, r := range stored {
		have[r.ExternalID] = true
	}
	keep := make(map[string]bool, len(at))
	for _, r := range at {
		keep[r.ExternalID] = true
		if !have[r.ExternalID] {
			add = append(add, r)
		}
	}
	for _, r := range stored {
		if !keep[r.ExternalID] {
			remove = append(remove, r.ExternalID)
		}
	}
	return add, remove, nil
}

// lifecycleToken is the token a confirmation asks the provider with: a
// usable one (refreshed when due) for an active connection, else the
// stored one as it is; nil when the connection holds none or it cannot be
// opened.
func (s *Service) lifecycleToken(ctx context.Context, c *relay.Connection) *relay.Token {
	if c.Status == relay.ConnectionActive {
		if t, err := s.Token(ctx, c.ID, ""); err == nil {
			return t
		}
	}
	st, err := s.store.GetToken(ctx, c.ID)
	if err != nil {
		return nil
	}
	t, err := s.open(st)
	if err != nil {
		return nil
	}
	return t
}
