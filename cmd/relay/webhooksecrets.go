package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/relayhq/relay/connect"
)

// warnSharedSecretWebhooks logs, per provider, how many connections still
// have a webhook Relay registered with the provider's shared secret (before
// secrets were kept per connection): an admin of any such account can read
// that secret at the provider and sign events for other accounts.
func warnSharedSecretWebhooks(ctx context.Context, conns *connect.Service, logger *slog.Logger) {
	for _, p := range conns.Providers() {
		n, err := conns.SharedSecretWebhooks(ctx, p)
		if err != nil {
			logger.Warn("counting shared-secret webhooks failed", "provider", p, "err", err)
			continue
		}
		if n > 0 {
			logger.Warn("connections with a webhook signed with the provider's shared secret: run `relay webhooks upgrade` to give each its own",
				"provider", p, "connections", n)
		}
	}
}

// cmdWebhooks runs `relay webhooks upgrade`.
func cmdWebhooks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "upgrade" {
		fmt.Fprintln(stderr, "Usage: relay webhooks upgrade [--config FILE] [--data-dir DIR] [--database-url URL]\n\n"+
			"Replaces every webhook Relay registered with a provider's shared secret (Linear, Vercel)\n"+
			"by one with its own secret, then removes the old one. Run it once, from one process.")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return fmt.Errorf("webhooks: unknown sub-command; use: relay webhooks upgrade")
	}
	f := newServerFlags("webhooks upgrade", "Gives every registered webhook its own secret.", getenv, stderr)
	cfg, err := f.load(args[1:], getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	store, _, ring, err := openSealedStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	connectors, err := buildConnectors(cfg, logger)
	if err != nil {
		return err
	}
	now := func() time.Time { return time.Now().UTC() }
	conns := connect.New(store, ring, connectors, nil, logger.With("component", "connect"), now, connect.Config{PublicURL: cfg.BaseURL()})
	defer conns.Close()
	n, err := conns.UpgradeWebhookSecrets(ctx)
	if err != nil {
		return fmt.Errorf("webhooks upgrade: %d webhooks replaced before: %w", n, err)
	}
	left := 0
	for _, p := range conns.Providers() {
		m, err := conns.SharedSecretWebhooks(ctx, p)
		if err != nil {
			return err
		}
		left += m
	}
	fmt.Fprintf(stdout, "%d webhooks now have their own secret; %d still use the shared secret\n", n, left)
	return nil
}
