package connect

import (
	"context"
	"time"

	"github.com/relayhq/relay"
)

// Token returns a usable access token for the connection: the stored one,
// or, when it expires within the refresh window, a refreshed one. Concurrent
// callers in this process share one refresh; across replicas, the stored
// token's version decides which refresh is kept, and the others use it. When
// orgID is not "", another org's connection is ENOTFOUND. A connection that
// is not active is ECONFLICT; one without a token (pending) is ENOTFOUND.
func (s *Service) Token(ctx context.Context, connectionID, orgID string) (*relay.Token, error) {
	c, err := s.store.GetConnection(ctx, connectionID, orgID)
	if err != nil {
		return nil, err
	}
	if c.Status != relay.ConnectionActive {
		return nil, relay.Errorf(relay.ECONFLICT, "connection %s is %s", c.ID, c.Status)
	}
	st, err := s.store.GetToken(ctx, c.ID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return nil, relay.Errorf(relay.ENOTFOUND, "connection %s holds no token", c.ID)
	} else if err != nil {
		return nil, err
	}
	t, err := s.open(st)
	if err != nil {
		return nil, err
	}
	if !s.expiring(t) {
		return t, nil
	}
	// One refresh per connection at a time: the others wait for its result.
	// The refresh runs detached from any one caller's cancellation, so a
	// caller giving up does not fail the others.
	v, err, _ := s.refreshes.Do(c.ID, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return s.refresh(rctx, c, "")
	})
	if err != nil {
		return nil, err
	}
	return v.(*relay.Token), nil
}

// Refresh replaces a token the provider rejected (answered 401) although
// it had not expired: unless another caller replaced it already, it asks
// the provider for a new one. Errors as Token's.
func (s *Service) Refresh(ctx context.Context, connectionID, rejected string) (*relay.Token, error) {
	c, err := s.store.GetConnection(ctx, connectionID, "")
	if err != nil {
		return nil, err
	}
	if c.Status != relay.ConnectionActive {
		return nil, relay.Errorf(relay.ECONFLICT, "connection %s is %s", c.ID, c.Status)
	}
	v, err, _ := s.refreshes.Do(c.ID, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return s.refresh(rctx, c, rejected)
	})
	if err != nil {
		return nil, err
	}
	return v.(*relay.Token), nil
}

// expiring reports whether t expires within the refresh window.
func (s *Service) expiring(t *relay.Token) bool {
	return !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(s.now().Add(s.cfg.RefreshWindow))
}

// refresh re-reads the token (another replica may have refreshed it), and if
// it is still expiring (or still the rejected one) asks the provider for a
// new one and stores it with a compare-and-swap on its version.
func (s *Service) refresh(ctx context.Context, c *relay.Connection, rejected string) (*relay.Token, error) {
	conn, ok := s.connectors[c.Provider]
	if !ok {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "provider %q has no connect flow configured: cannot refresh", c.Provider)
	}
	for range 3 {
		st, err := s.store.GetToken(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		old, err := s.open(st)
		if err != nil {
			return nil, err
		}
		if !s.expiring(old) && (rejected == "" || old.AccessToken != rejected) {
			return old, nil
		}
		fresh, err := conn.Refresh(ctx, c, old)
		if err != nil {
			s.logger.Warn("connect: token refresh failed", "connection_id", c.ID, "provider", c.Provider, "err", err)
			return nil, err
		}
		// The provider may omit what did not change.
		if fresh.ExpiresAt.IsZero() {
			fresh.ExpiresAt = old.ExpiresAt
		}
		if fresh.RefreshToken == "" {
			fresh.RefreshToken = old.RefreshToken
		}
		sealed, err := s.seal(c.ID, fresh)
		if err != nil {
			return nil, err
		}
		err = s.store.PutToken(ctx, sealed, st.Version)
		if relay.ErrorCode(err) == relay.ECONFLICT {
			continue // another replica stored a token meanwhile: use it if fresh
		} else if err != nil {
			return nil, err
		}
		s.logger.Info("token refreshed", "connection_id", c.ID, "provider", c.Provider, "expires_at", fresh.ExpiresAt)
		return fresh, nil
	}
	return nil, relay.Errorf(relay.EUNAVAILABLE, "connection %s: token refresh kept conflicting; retry", c.ID)
}
