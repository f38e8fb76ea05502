package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/persona"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/resolve"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/vault"
	"github.com/relayhq/relay/vercel"
)

// keyFileName is the generated vault key in the data dir, used when
// encryption.keys is not set.
const keyFileName = "relay.key"

// openKeyring builds the token vault's keyring: the configured keys, or a
// key generated into the data dir (with a warning: losing that file loses
// every stored token, and replicas on PostgreSQL must share one key).
func openKeyring(cfg *config.Config, kind string, logger *slog.Logger) (*vault.Keyring, error) {
	if len(cfg.Encryption.Keys) > 0 {
		keys, err := vault.ParseKeys(cfg.Encryption.Keys)
		if err != nil {
			return nil, fmt.Errorf("config: encryption.keys%w", err)
		}
		return vault.New(keys)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, keyFileName)
	key, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	msg := "no encryption.keys configured: tokens are encrypted with the key in this file; back it up"
	if created {
		msg = "no encryption.keys configured: generated a key for the token vault; back it up"
	}
	if kind == "postgres" {
		msg += "; every replica must use the same key, so set encryption.keys (RELAY_ENCRYPTION_KEYS)"
	}
	logger.Warn(msg, "key_file", path)
	return vault.New([][]byte{key})
}

// ingestRouter matches each event to its connection's org before choosing
// its destinations, so org-filtered destinations see only their org's
// events. An event of an unknown account is held only while some
// destination is filtered to an org: with none, there is nobody to release
// it to, and holding would only grow the index of held events.
//
// A held event is announced to identity repair (held, which never blocks),
// whose resolution job runs outside the request path.
type ingestRouter struct {
	match       func(*relay.Event)
	route       func(*relay.Event) []*relay.Destination
	orgFiltered func() bool
	held        func(*relay.Event)
}

func (r ingestRouter) Route(e *relay.Event) []*relay.Destination {
	r.match(e)
	if e.Match == relay.MatchUnmatched && !r.orgFiltered() {
		e.Match = relay.MatchNone
	}
	if e.Match == relay.MatchUnmatched && r.held != nil {
		r.held(e)
	}
	return r.route(e)
}

// resolverChains builds the configured resolver chains by provider, each
// step with the provider API client it needs.
func resolverChains(cfg *config.Config) (map[string][]relay.Resolver, error) {
	p := cfg.Providers
	var bc *bridge.Client
	var pc *persona.Client
	chains := map[string][]relay.Resolver{}
	for i, r := range cfg.Resolve.Resolvers {
		var step relay.Resolver
		switch r.Type {
		case "bridge_customer":
			if bc == nil {
				bc = bridge.NewClient(bridge.ClientConfig{APIURL: p.Bridge.APIURL, APIKey: p.Bridge.APIKey})
			}
			step = &bridge.CustomerResolver{Client: bc}
		case "persona_accounts_by_email":
			if pc == nil {
				pc = persona.NewClient(persona.ClientConfig{APIURL: p.Persona.APIURL, APIKey: p.Persona.APIKey, EmailField: p.Persona.EmailField})
			}
			step = &persona.EmailResolver{Client: pc}
		case "payload":
			step = &resolve.PayloadResolver{Path: r.Path, As: r.As}
		case "http":
			step = &resolve.HTTPResolver{URL: r.LookupURL, Secret: r.Secret}
		default:
			return nil, fmt.Errorf("config: resolve.resolvers[%d].type: unknown %q", i, r.Type)
		}
		chains[r.Provider] = append(chains[r.Provider], step)
	}
	return chains, nil
}

// cmdKeys runs `relay keys rotate`, and the API key verbs (ls, revoke,
// add) through cmdAPIKeys.
func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return cmdAPIKeys(ctx, args, getenv, stdout, stderr)
	}
	f := newServerFlags("keys rotate", "Re-encrypts every stored token and webhook secret under the first key of encryption.keys.\n"+
		"Rotate an encryption key by putting the new key first (keeping the old one after it),\n"+
		"running this, then removing the old key. (API keys are 'relay keys ls|revoke|add'.)", getenv, stderr)
	cfg, err := f.load(args[1:], getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	store, kind, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	cs, ok := store.(relay.ConnectionStore)
	if !ok {
		return fmt.Errorf("keys rotate: the %s store holds no connections", kind)
	}
	ring, err := openKeyring(cfg, kind, logger)
	if err != nil {
		return err
	}
	n, err := cs.ResealAll(ctx, ring.Reseal)
	if err != nil {
		return fmt.Errorf("keys rotate: %d tokens and webhook secrets re-encrypted before: %w", n, err)
	}
	fmt.Fprintf(stdout, "%d tokens and webhook secrets now encrypted under key %s\n", n, ring.PrimaryID())
	return nil
}

// buildConnectors returns the connect flows of the providers configured for
// them.
func buildConnectors(cfg *config.Config, logger *slog.Logger) ([]relay.Connector, error) {
	var out []relay.Connector
	p := cfg.Providers
	if p.GitHub.AllowUnverifiedInstallations {
		logger.Warn("UNSAFE: providers.github.allow_unverified_installations is on: GitHub App installations are connected "+
			"without checking that the installing user can access them, so any org that can start a connect flow can claim "+
			"any installation of the App and fetch its tokens; turn on \"Request user authorization (OAuth) during installation\" "+
			"in the App's settings, set client_id and client_secret, and turn this off",
			"key", "providers.github.allow_unverified_installations")
	}
	if p.GitHub.ConnectConfigured() {
		key, err := p.GitHub.RSAKey()
		if err != nil {
			return nil, fmt.Errorf("config: providers.github.private_key: %w", err)
		}
		c, err := github.NewConnector(github.ConnectorConfig{AppID: p.GitHub.AppID, AppSlug: p.GitHub.AppSlug,
			PrivateKey: key, APIURL: p.GitHub.APIURL, WebURL: p.GitHub.WebURL,
			ClientID: p.GitHub.ClientID, ClientSecret: p.GitHub.ClientSecret,
			AllowUnverifiedInstallations: p.GitHub.AllowUnverifiedInstallations})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p.Linear.ConnectConfigured() {
		c, err := linear.NewConnector(linear.ConnectorConfig{ClientID: p.Linear.ClientID, ClientSecret: p.Linear.ClientSecret,
			APIURL: p.Linear.APIURL, WebURL: p.Linear.WebURL})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p.Sentry.ConnectConfigured() {
		c, err := sentry.NewConnector(sentry.ConnectorConfig{ClientID: p.Sentry.ClientID, ClientSecret: p.Sentry.ClientSecret,
			Slug: p.Sentry.Slug, APIURL: p.Sentry.APIURL, WebURL: p.Sentry.WebURL})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if p.Vercel.ConnectConfigured() {
		c, err := vercel.NewConnector(vercel.ConnectorConfig{ClientID: p.Vercel.ClientID, ClientSecret: p.Vercel.ClientSecret,
			Slug: p.Vercel.Slug, APIURL: p.Vercel.APIURL, WebURL: p.Vercel.WebURL})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	names := make([]string, len(out))
	for i, c := range out {
		names[i] = c.Name()
	}
	logger.Info("connect flows configured", "providers", names)
	return out, nil
}

// openJobs starts River on the store's database.
func openJobs(ctx context.Context, store relay.Store, h riverjobs.Handlers, opts riverjobs.Options, logger *slog.Logger) (*riverjobs.Queue, error) {
	switch st := store.(type) {
	case *sqlite.Store:
		return riverjobs.OpenSQLite(ctx, st.Path(), h, opts, logger)
	case *postgres.Store:
		return riverjobs.OpenPostgres(ctx, st.Pool(), h, opts, logger)
	default:
		return nil, fmt.Errorf("jobs: no River driver for %T", store)
	}
}
