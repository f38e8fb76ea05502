package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/generic"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/persona"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/vercel"
)

// registration is one built-in provider as serve assembles it: its name
// (the section providers.<name> of the config, which config validation
// reserves, and the path /webhooks/<name>), how to build its webhook
// adapter, and how to build its connect flow (whose backfill lister, when
// it has one, is the connector itself: relay.BackfillLister).
type registration struct {
	name string
	// webhook builds the webhook adapter, or returns nil when the provider
	// has no webhook secret configured: it could verify nothing, so its
	// webhooks are not served (404).
	webhook func(p *config.Providers) (relay.Provider, error)
	// connector builds the connect flow, or returns nil when it is not
	// configured; nil when the provider has none.
	connector func(p *config.Providers) (relay.Connector, error)
}

// registry lists the built-in providers. Adding a provider means its
// package, its config section (config.Providers) and one entry here;
// TestRegistryMatchesConfig keeps the two lists in step.
var registry = []registration{
	{name: "github",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if p.GitHub.WebhookSecret == "" {
				return nil, nil
			}
			return github.New(github.Config{WebhookSecret: p.GitHub.WebhookSecret}), nil
		},
		connector: func(p *config.Providers) (relay.Connector, error) {
			if !p.GitHub.ConnectConfigured() {
				return nil, nil
			}
			key, err := p.GitHub.RSAKey()
			if err != nil {
				return nil, fmt.Errorf("config: providers.github.private_key: %w", err)
			}
			return github.NewConnector(github.ConnectorConfig{AppID: p.GitHub.AppID, AppSlug: p.GitHub.AppSlug,
				PrivateKey: key, APIURL: p.GitHub.APIURL, WebURL: p.GitHub.WebURL,
				ClientID: p.GitHub.ClientID, ClientSecret: p.GitHub.ClientSecret,
				AllowUnverifiedInstallations: p.GitHub.AllowUnverifiedInstallations})
		}},
	{name: "linear",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if p.Linear.WebhookSecret == "" {
				return nil, nil
			}
			return linear.New(linear.Config{WebhookSecret: p.Linear.WebhookSecret, Tolerance: time.Duration(p.Linear.TimestampTolerance)}), nil
		},
		connector: func(p *config.Providers) (relay.Connector, error) {
			if !p.Linear.ConnectConfigured() {
				return nil, nil
			}
			return linear.NewConnector(linear.ConnectorConfig{ClientID: p.Linear.ClientID, ClientSecret: p.Linear.ClientSecret,
				APIURL: p.Linear.APIURL, WebURL: p.Linear.WebURL})
		}},
	{name: "sentry",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if p.Sentry.ClientSecret == "" {
				return nil, nil
			}
			return sentry.New(sentry.Config{ClientSecret: p.Sentry.ClientSecret}), nil
		},
		connector: func(p *config.Providers) (relay.Connector, error) {
			if !p.Sentry.ConnectConfigured() {
				return nil, nil
			}
			return sentry.NewConnector(sentry.ConnectorConfig{ClientID: p.Sentry.ClientID, ClientSecret: p.Sentry.ClientSecret,
				Slug: p.Sentry.Slug, APIURL: p.Sentry.APIURL, WebURL: p.Sentry.WebURL})
		}},
	{name: "vercel",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if p.Vercel.ClientSecret == "" {
				return nil, nil
			}
			return vercel.New(vercel.Config{ClientSecret: p.Vercel.ClientSecret}), nil
		},
		connector: func(p *config.Providers) (relay.Connector, error) {
			if !p.Vercel.ConnectConfigured() {
				return nil, nil
			}
			return vercel.NewConnector(vercel.ConnectorConfig{ClientID: p.Vercel.ClientID, ClientSecret: p.Vercel.ClientSecret,
				Slug: p.Vercel.Slug, APIURL: p.Vercel.APIURL, WebURL: p.Vercel.WebURL})
		}},
	{name: "bridge",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if len(p.Bridge.WebhookPublicKeys) == 0 {
				return nil, nil
			}
			b, err := bridge.New(bridge.Config{PublicKeys: p.Bridge.WebhookPublicKeys, Tolerance: time.Duration(p.Bridge.TimestampTolerance)})
			if err != nil {
				return nil, fmt.Errorf("config: providers.bridge.webhook_public_keys: %w", err)
			}
			return b, nil
		}},
	{name: "persona",
		webhook: func(p *config.Providers) (relay.Provider, error) {
			if len(p.Persona.WebhookSecrets) == 0 {
				return nil, nil
			}
			ps, err := persona.New(persona.Config{WebhookSecrets: p.Persona.WebhookSecrets, Tolerance: time.Duration(p.Persona.TimestampTolerance)})
			if err != nil {
				return nil, fmt.Errorf("config: providers.persona.webhook_secrets: %w", err)
			}
			return ps, nil
		}},
}

// providers builds the webhook adapters that are configured: the built-in
// providers with a secret (registry), then the generic sources.
func providers(cfg *config.Config) ([]relay.Provider, error) {
	var out []relay.Provider
	for _, r := range registry {
		p, err := r.webhook(&cfg.Providers)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	for i, s := range cfg.Sources {
		var src relay.Provider
		var err error
		switch s.Scheme {
		case "standard-webhooks":
			src, err = generic.NewStandardWebhooks(s.Name, s.Secret, time.Duration(s.TimestampTolerance))
		case "hmac-sha256":
			src, err = generic.NewHMAC(s.Name, generic.HMACConfig{
				Header: s.Header, Secret: s.Secret, Prefix: s.Prefix, Encoding: s.Encoding,
				IDHeader: s.IDHeader, IDField: s.IDField, TypeField: s.TypeField,
			})
		default:
			err = fmt.Errorf("unknown scheme %q", s.Scheme)
		}
		if err != nil {
			return nil, fmt.Errorf("config: sources[%d]: %s", i, relay.ErrorMessage(err))
		}
		out = append(out, src)
	}
	return out, nil
}

// buildConnectors returns the connect flows of the providers configured for
// them (registry).
func buildConnectors(cfg *config.Config, logger *slog.Logger) ([]relay.Connector, error) {
	if cfg.Providers.GitHub.AllowUnverifiedInstallations {
		logger.Warn("UNSAFE: providers.github.allow_unverified_installations is on: GitHub App installations are connected "+
			"without checking that the installing user can access them, so any org that can start a connect flow can claim "+
			"any installation of the App and fetch its tokens; turn on \"Request user authorization (OAuth) during installation\" "+
			"in the App's settings, set client_id and client_secret, and turn this off",
			"key", "providers.github.allow_unverified_installations")
	}
	var out []relay.Connector
	for _, r := range registry {
		if r.connector == nil {
			continue
		}
		c, err := r.connector(&cfg.Providers)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	names := make([]string, len(out))
	for i, c := range out {
		names[i] = c.Name()
	}
	logger.Info("connect flows configured", "providers", names)
	return out, nil
}

// backfillListers returns the connectors that can also import history,
// with their provider names.
func backfillListers(connectors []relay.Connector) ([]relay.BackfillLister, []string) {
	var listers []relay.BackfillLister
	var names []string
	for _, c := range connectors {
		if l, ok := c.(relay.BackfillLister); ok {
			listers, names = append(listers, l), append(names, c.Name())
		}
	}
	return listers, names
}
