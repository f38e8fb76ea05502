// Package connect runs Relay's connections: the OAuth connect flow (a start
// link that binds it to one browser, state, PKCE, code exchange, upsert,
// resources, webhook registration), usable
// tokens (refreshed once at a time), event matching to orgs with its cache,
// lifecycle changes announced by webhooks, and teardown.
//
// It works through the domain's interfaces only: a relay.ConnectionStore, a
// relay.Sealer for tokens at rest, and a relay.Connector per provider.
package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/relayhq/relay"
)

// Store is what the service needs of storage.
type Store interface {
	relay.ConnectionStore
	relay.WebhookSecretStore
	relay.ConnectSessionStore
	ListDestinations(ctx context.Context) ([]*relay.Destination, error)
}

// Config holds the service's settings.
type Config struct {
	// PublicURL is Relay's external base URL: redirect URIs are
	// PublicURL/oauth/{provider}/callback and registered webhooks point at
	// PublicURL/webhooks/{provider}.
	PublicURL string
	// StateTTL bounds a connect flow (default 10 minutes).
	StateTTL time.Duration
	// SessionTTL bounds a connect session's page (default 30 minutes).
	SessionTTL time.Duration
	// RefreshWindow: a token expiring within it is refreshed before it is
	// handed out (default 5 minutes).
	RefreshWindow time.Duration
	// NegativeTTL is how long "no connection for this account" is cached
	// (default 5 s): short, because another replica may create it.
	NegativeTTL time.Duration
	// PositiveTTL is how long a found connection is cached (default 5 min).
	PositiveTTL time.Duration
	// GenerationInterval is how often, at most, the match cache reads the
	// store's connection generation to learn of changes made by other
	// replicas (default 1 s).
	GenerationInterval time.Duration
	// AllowedReturnOrigins are the scheme://host[:port] a flow's return URL
	// may be on (default: PublicURL's origin only).
	AllowedReturnOrigins []string
	// Hooks are what other services do when connections change.
	Hooks Hooks
	// EnqueueTeardown, when set, makes teardowns durable jobs: it must
	// queue one RunTeardown of the connection, at most once at a time.
	// Without it a teardown runs in-process.
	EnqueueTeardown func(ctx context.Context, connectionID string) error
	// EnqueueLifecycle, when set, makes confirmations that could not reach
	// the provider durable jobs: it must queue one RunLifecycle of the
	// change. Without it such a confirmation is not retried.
	EnqueueLifecycle func(ctx context.Context, provider string, ch *relay.LifecycleChange) error
}

// Service is the connections service. Build it with New.
type Service struct {
	store      Store
	sealer     relay.Sealer
	connectors map[string]relay.Connector
	cfg        Config
	logger     *slog.Logger
	now        func() time.Time
	wake       func() // makes the delivery engine look for due work

	enqueueTeardown  func(ctx context.Context, connectionID string) error                        // nil: in-process
	enqueueLifecycle func(ctx context.Context, provider string, ch *relay.LifecycleChange) error // nil: no retry
	hooks            Hooks

	refreshes singleflight.Group
	cache     matchCache
	secrets   secretCache
	origins   []string // allowed return origins, normalised

	wg       sync.WaitGroup // background work (teardowns, late releases)
	stopOnce sync.Once
	stop     chan struct{}
}

// New returns the service. wake is called when held events were released
// (nil for none).
func New(store Store, sealer relay.Sealer, connectors []relay.Connector, wake func(),
	logger *slog.Logger, now func() time.Time, cfg Config) *Service {
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.RefreshWindow <= 0 {
		cfg.RefreshWindow = 5 * time.Minute
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.PositiveTTL <= 0 {
		cfg.PositiveTTL = 5 * time.Minute
	}
	if cfg.GenerationInterval <= 0 {
		cfg.GenerationInterval = time.Second
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if wake == nil {
		wake = func() {}
	}
	s := &Service{
		store: store, sealer: sealer, cfg: cfg, logger: logger, now: now, wake: wake,
		hooks: cfg.Hooks, enqueueTeardown: cfg.EnqueueTeardown, enqueueLifecycle: cfg.EnqueueLifecycle,
		connectors: make(map[string]relay.Connector, len(connectors)),
		cache:      matchCache{entries: map[matchKey]matchEntry{}, generation: -1},
		secrets:    secretCache{entries: map[secretKey]secretEntry{}},
		origins:    returnOrigins(cfg),
		stop:       make(chan struct{}),
	}
	for _, c := range connectors {
		s.connectors[c.Name()] = c
	}
	return s
}

// Close stops background work and waits for it.
func (s *Service) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// Providers lists the providers with a connect flow configured.
func (s *Service) Providers() []string {
	var out []string
	for name := range s.connectors {
		out = append(out, name)
	}
	return out
}

// RedirectURI is the provider's OAuth callback URL at Relay.
func (s *Service) RedirectURI(provider string) string {
	return s.cfg.PublicURL + "/oauth/" + provider + "/callback"
}

// Authorize starts a connect flow for org with provider and returns its
// start link at Relay (see Start), to which the user's browser must be sent
// at once. It returns ENOTFOUND for an unknown org or a provider without a
// connect flow, and EINVALID for a return URL that is not an absolute
// http(s) URL on an allowed return origin.
func (s *Service) Authorize(ctx context.Context, orgID, provider, returnURL string) (startURL string, expiresAt time.Time, err error) {
	conn, ok := s.connectors[provider]
	if !ok {
		return "", time.Time{}, relay.Errorf(relay.ENOTFOUND, "provider %q has no connect flow configured", provider)
	}
	if _, err := s.store.GetOrg(ctx, orgID); err != nil {
		return "", time.Time{}, err
	}
	if err := s.checkReturnURL(returnURL); err != nil {
		return "", time.Time{}, err
	}
	return s.newFlow(ctx, conn, orgID, provider, returnURL)
}

// newFlow stores a pending connect flow of provider for orgID that ends at
// returnURL, and returns its start link and expiry.
func (s *Service) newFlow(ctx context.Context, conn relay.Connector, orgID, provider, returnURL string) (string, time.Time, error) {
	now := s.now()
	flow := randomToken(32)
	st := &relay.OAuthState{
		State: randomToken(32), Provider: provider, OrgID: orgID, ReturnURL: returnURL, StartHash: hashHex(flow),
		ExpiresAt: now.Add(s.cfg.StateTTL), CreatedAt: now,
	}
	if conn.PKCE() {
		st.CodeVerifier = randomToken(32)
	}
	if err := s.store.CreateOAuthState(ctx, st); err != nil {
		return "", time.Time{}, err
	}
	return s.startURL(provider, flow), st.ExpiresAt, nil
}

// Callback completes a connect flow from the provider's redirect; binding
// is the secret the browser received when it opened the flow's start link
// ("" when it has none). It returns the URL to send the browser to: the
// flow's return URL with connection_id and status, or with error and
// error_description (error is installation_not_verified when the connector
// could not verify the account the redirect names, EFORBIDDEN; nothing is
// stored then). Failures that have no trustworthy return URL (a missing,
// unknown, reused or foreign state, or a browser other than the one that
// started the flow) are an *Error EINVALID whose message the handler shows
// as a 400 page. A callback from another browser leaves the flow usable by
// its own.
func (s *Service) Callback(ctx context.Context, provider string, query url.Values, binding string) (string, error) {
	state := query.Get("state")
	if state == "" {
		return "", relay.Errorf(relay.EINVALID, "The connect link is missing its state parameter. Start the connection again.")
	}
	pending, err := s.store.GetOAuthState(ctx, state)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return "", relay.Errorf(relay.EINVALID, "This connect link is unknown or was already used. Start the connection again.")
	} else if err != nil {
		return "", err
	}
	if !boundTo(pending, binding) {
		s.logger.Info("connect: callback refused: not the browser that started the flow", "provider", provider, "org_id", pending.OrgID)
		return "", errOtherBrowser
	}
	st, err := s.store.TakeOAuthState(ctx, state)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return "", relay.Errorf(relay.EINVALID, "This connect link is unknown or was already used. Start the connection again.")
	} else if err != nil {
		return "", err
	}
	if st.Provider != provider {
		return "", relay.Errorf(relay.EINVALID, "This connect link belongs to another provider. Start the connection again.")
	}
	back := func(kv ...string) string { return withQuery(st.ReturnURL, kv...) }
	if s.now().After(st.ExpiresAt) {
		return back("error", "state_expired", "error_description", "The connect link expired; start again."), nil
	}
	if e := query.Get("error"); e != "" {
		// Denied consent and other provider-side refusals come back this way.
		return back("error", "access_denied", "error_description", "The provider reported: "+truncate(e, 100)), nil
	}
	conn := s.connectors[provider]
	grant, err := conn.Exchange(ctx, query, s.RedirectURI(provider), st.CodeVerifier)
	if relay.ErrorCode(err) == relay.EFORBIDDEN {
		// The provider does not vouch for the account the redirect names
		// (a GitHub installation_id the installing user cannot access): a
		// spoofed or mistaken id, not a provider failure.
		s.logger.Warn("connect: account not verified", "provider", provider, "org_id", st.OrgID, "err", err)
		return back("error", "installation_not_verified", "error_description", relay.ErrorMessage(err)), nil
	} else if err != nil {
		s.logger.Warn("connect: exchange failed", "provider", provider, "org_id", st.OrgID, "err", err)
		return back("error", "provider_error", "error_description", relay.ErrorMessage(err)), nil
	}
	if grant.Connection.ExternalID == "" && grant.Connection.Status == relay.ConnectionPending {
		// Requested but not granted yet (a GitHub org owner must approve):
		// no account to connect until then.
		return back("status", relay.ConnectionPending), nil
	}
	c, err := s.save(ctx, st.OrgID, provider, grant)
	if relay.ErrorCode(err) == relay.ECONFLICT {
		return back("error", "account_taken", "error_description", "This account is connected to another org."), nil
	} else if err != nil {
		s.logger.Error("connect: saving the connection failed", "provider", provider, "org_id", st.OrgID, "err", err)
		return back("error", "server_error", "error_description", "The connection could not be saved; try again."), nil
	}
	return back("connection_id", c.ID, "status", c.Status), nil
}

// save upserts the connection of a grant with its sealed token and
// resources, registers webhooks, and releases the account's held events.
func (s *Service) save(ctx context.Context, orgID, provider string, g *relay.Grant) (*relay.Connection, error) {
	now := s.now()
	c := g.Connection
	c.OrgID, c.Provider, c.UpdatedAt = orgID, provider, now
	if c.Status == "" {
		c.Status = relay.ConnectionActive
	}
	c.StatusReason = ""
	var sealed relay.SealToken
	if g.Token != nil {
		sealed = func(connectionID string) (*relay.SealedToken, error) { return s.seal(connectionID, g.Token) }
		c.TokenExpiresAt = g.Token.ExpiresAt
	}
	for _, r := range g.Resources {
		r.Provider = provider
	}
	resources := g.Resources
	if resources == nil {
		resources = []*relay.Resource{}
	}
	created, err := s.store.UpsertConnection(ctx, c, sealed, resources)
	if err != nil {
		return nil, err
	}
	log := s.logger.With("connection_id", c.ID, "provider", provider, "org_id", orgID)
	log.Info("connection saved", "created", created, "status", c.Status, "resources", len(resources))
	if reg, ok := s.connectors[provider].(relay.WebhookRegistrar); ok && g.Token != nil && c.Metadata["webhook_id"] == "" {
		id, secret, err := reg.RegisterWebhook(ctx, c, g.Token, s.cfg.PublicURL+"/webhooks/"+provider)
		if err == nil && secret != "" {
			// The webhook's own secret is kept sealed beside the connection,
			// never in its metadata; without it its deliveries cannot verify.
			if err = s.storeWebhookSecret(ctx, c, id, secret); err != nil {
				log.Error("connect: storing the webhook secret failed; removing the webhook", "err", err)
				if derr := reg.DeregisterWebhook(ctx, c, g.Token, id); derr != nil {
					log.Warn("connect: removing the webhook whose secret was not stored failed", "err", derr)
				}
				err = relay.Errorf(relay.EINTERNAL, "the webhook secret could not be stored; connect again")
			}
		}
		if err != nil {
			// The connection works without it for providers whose app-level
			// webhook also delivers; the failure is recorded for the team.
			log.Warn("connect: webhook registration failed", "err", err)
			_ = s.store.SetConnectionMetadata(ctx, c.ID, map[string]string{"webhook_error": relay.ErrorMessage(err)}, now)
		} else if err := s.store.SetConnectionMetadata(ctx, c.ID, map[string]string{"webhook_id": id, "webhook_error": ""}, now); err != nil {
			log.Warn("connect: recording the webhook id failed", "err", err)
		}
	}
	s.Invalidate(provider, c.ExternalID)
	for _, r := range resources {
		s.invalidateResource(provider, r.ExternalID)
	}
	s.release(ctx, c)
	if s.hooks.Connected != nil && c.Status == relay.ConnectionActive {
		s.hooks.Connected(ctx, c, created)
	}
	return c, nil
}

// Hooks are what other services do when connections change.
type Hooks struct {
	// Connected is called after a connect flow saved an active connection
	// (created: a new one rather than a reconnect or an update).
	Connected func(ctx context.Context, c *relay.Connection, created bool)
	// TearingDown is called first in a teardown (and again if the teardown
	// is retried); an error fails the step, to be retried.
	TearingDown func(ctx context.Context, connectionID string) error
	// Revoked is called after a provider's lifecycle webhook revoked a
	// connection (an uninstall, a revoked authorization).
	Revoked func(ctx context.Context, c *relay.Connection, reason string)
}

// release delivers the account's held events to the org's destinations,
// now and once more after the negative cache's lifetime, for events another
// replica stored as unmatched from a cache entry older than the connection.
func (s *Service) release(ctx context.Context, c *relay.Connection) {
	s.releaseOnce(ctx, c)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.stop:
			return
		case <-time.After(2 * s.cfg.NegativeTTL):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.releaseOnce(ctx, c)
	}()
}

func (s *Service) releaseOnce(ctx context.Context, c *relay.Connection) {
	dsts, err := s.store.ListDestinations(ctx)
	if err != nil {
		s.logger.Warn("connect: releasing held events: listing destinations failed", "connection_id", c.ID, "err", err)
		return
	}
	n, err := s.store.ReleaseHeld(ctx, relay.HeldRelease{
		Provider: c.Provider, AccountID: c.ExternalID, OrgID: c.OrgID, ConnectionID: c.ID,
		Destinations: relay.Routes(dsts).ForRelease(c.OrgID), Now: s.now(),
	})
	if err != nil {
		s.logger.Warn("connect: releasing held events failed", "connection_id", c.ID, "err", err)
		return
	}
	if n > 0 {
		s.logger.Info("held events released", "connection_id", c.ID, "events", n)
		s.wake()
	}
}

// seal encrypts a connection's token for storage, bound to the connection
// (relay.TokenAD): copied into another connection's row, it does not open.
func (s *Service) seal(connectionID string, t *relay.Token) (*relay.SealedToken, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("connect: seal token: %w", err)
	}
	sealed, err := s.sealer.Seal(b, relay.TokenAD(connectionID))
	if err != nil {
		return nil, fmt.Errorf("connect: seal token: %w", err)
	}
	return &relay.SealedToken{ConnectionID: connectionID, Sealed: sealed, ExpiresAt: t.ExpiresAt}, nil
}

// open decrypts a stored token for the connection it is stored for.
func (s *Service) open(st *relay.SealedToken) (*relay.Token, error) {
	b, err := s.sealer.Open(st.Sealed, relay.TokenAD(st.ConnectionID))
	if err != nil {
		return nil, err
	}
	var t relay.Token
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("connect: open token: %w", err)
	}
	return &t, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// withQuery adds query parameters to a URL (keeping its own).
func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Paired makes a connection that identity repair created take effect: the
// match cache forgets the account, and its held events are released to the
// org's destinations in arrival order.
func (s *Service) Paired(ctx context.Context, c *relay.Connection) {
	s.Invalidate(c.Provider, c.ExternalID)
	s.logger.Info("connection paired", "connection_id", c.ID, "provider", c.Provider, "org_id", c.OrgID)
	s.release(ctx, c)
}
