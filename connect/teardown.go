package connect

import (
	"context"
	"time"

	"github.com/relayhq/relay"
)

// Teardown steps, recorded in Connection.Teardown as they start.
const (
	TeardownPending    = "pending"
	TeardownDeregister = "deregistering_webhooks"
	TeardownRevoking   = "revoking_token"
	TeardownDeleting   = "deleting"
	TeardownDone       = "done"
)

// Teardown asks for the connection to be torn down and returns at once;
// the steps run as a durable job (Config.EnqueueTeardown), or, without a queue,
// in the background here, resumed after a restart by ResumeTeardowns.
// orgID scopes as in GetConnection.
func (s *Service) Teardown(ctx context.Context, connectionID, orgID string) (*relay.Connection, error) {
	c, err := s.store.GetConnection(ctx, connectionID, orgID)
	if err != nil {
		return nil, err
	}
	if c.DeletedAt != nil {
		return c, nil // already torn down
	}
	if c.Teardown == "" {
		if err := s.store.SetTeardown(ctx, c.ID, TeardownPending, s.now()); err != nil {
			return nil, err
		}
		c.Teardown = TeardownPending
	}
	if err := s.startTeardown(ctx, c.ID); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) startTeardown(ctx context.Context, id string) error {
	if s.enqueueTeardown != nil {
		return s.enqueueTeardown(ctx, id)
	}
	s.goTeardown(id)
	return nil
}

// RunTeardown runs a connection's teardown steps (the durable job's body).
// Each step is idempotent; an error means "retry later".
func (s *Service) RunTeardown(ctx context.Context, connectionID string) error {
	return s.runTeardown(ctx, connectionID)
}

// ResumeTeardowns restarts the teardowns a previous process left
// unfinished: with a queue, it re-queues any whose job was never queued (a
// crash between recording the request and queuing it).
func (s *Service) ResumeTeardowns(ctx context.Context) error {
	cs, err := s.store.ListConnections(ctx, relay.ConnectionFilter{})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Teardown != "" && c.Teardown != TeardownDone {
			if err := s.startTeardown(ctx, c.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) goTeardown(id string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for wait := time.Second; ; wait = min(2*wait, 5*time.Minute) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := s.runTeardown(ctx, id)
			cancel()
			if err == nil {
				return
			}
			s.logger.Warn("connect: teardown step failed; retrying", "connection_id", id, "err", err, "retry_in", wait)
			select {
			case <-s.stop:
				return // resumed at the next start
			case <-time.After(wait):
			}
		}
	}()
}

// runTeardown runs the teardown's steps; each is idempotent, so running it
// again after a failure or a crash is safe. Webhooks are removed before the
// token is revoked: removing them needs the token. Revoking the token and removing
// webhooks at the provider are best effort: their outcome is recorded in
// the connection's metadata and a failure there does not keep the
// connection alive.
func (s *Service) runTeardown(ctx context.Context, id string) error {
	c, err := s.store.GetConnection(ctx, id, "")
	if err != nil {
		return err
	}
	if c.DeletedAt != nil {
		return nil
	}
	log := s.logger.With("connection_id", c.ID, "provider", c.Provider)
	if s.hooks.TearingDown != nil {
		if err := s.hooks.TearingDown(ctx, c.ID); err != nil {
			return err
		}
	}
	now := s.now()
	conn := s.connectors[c.Provider]
	var tok *relay.Token
	if st, err := s.store.GetToken(ctx, c.ID); err == nil {
		if tok, err = s.open(st); err != nil {
			return err
		}
	} else if relay.ErrorCode(err) != relay.ENOTFOUND {
		return err
	}
	if tok != nil && !tok.ExpiresAt.IsZero() && !s.now().Before(tok.ExpiresAt) {
		// Expired: removing webhooks needs a live one. Best effort.
		if fresh, err := s.Token(ctx, c.ID, ""); err == nil {
			tok = fresh
		}
	}

	if err := s.store.SetTeardown(ctx, c.ID, TeardownDeregister, now); err != nil {
		return err
	}
	deregister := ""
	if hook := c.Metadata["webhook_id"]; hook != "" {
		reg, ok := conn.(relay.WebhookRegistrar)
		switch {
		case !ok || tok == nil:
			deregister = "not possible"
		default:
			if err := reg.DeregisterWebhook(ctx, c, tok, hook); err != nil {
				deregister = "failed: " + relay.ErrorMessage(err)
				log.Warn("connect: removing the provider webhook failed", "err", err)
			} else {
				deregister = "removed"
			}
		}
	}
	if err := s.store.SetTeardown(ctx, c.ID, TeardownRevoking, now); err != nil {
		return err
	}
	revoke := "no token"
	switch {
	case tok == nil:
	case conn == nil:
		revoke = "provider not configured"
	default:
		if err := conn.Revoke(ctx, c, tok); err != nil {
			revoke = "failed: " + relay.ErrorMessage(err)
			log.Warn("connect: revoking the token at the provider failed", "err", err)
		} else {
			revoke = "revoked"
		}
	}

	if err := s.store.SetConnectionMetadata(ctx, c.ID, map[string]string{
		"teardown_revoke": revoke, "teardown_webhook": deregister,
	}, now); err != nil {
		return err
	}

	s.invalidateConnection(c.ID)
	s.Invalidate(c.Provider, c.ExternalID)
	if err := s.store.SetTeardown(ctx, c.ID, TeardownDeleting, now); err != nil {
		return err
	}
	if err := s.store.DeleteConnection(ctx, c.ID, now); err != nil {
		return err
	}
	if err := s.store.SetTeardown(ctx, c.ID, TeardownDone, now); err != nil {
		return err
	}
	s.invalidateConnection(c.ID)
	s.invalidateSecrets(c.Provider, c.ExternalID, c.ID, c.Metadata["webhook_id"])
	log.Info("connection torn down", "revoke", revoke, "webhook", deregister)
	return nil
}
