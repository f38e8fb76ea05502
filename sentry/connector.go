package sentry

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// ConnectorConfig configures the Sentry public integration's install flow.
type ConnectorConfig struct {
	// ClientID and ClientSecret identify the integration (required); the
	// client secret also signs its webhooks.
	ClientID, ClientSecret string
	// Slug is the integration's slug, for the install URL (required).
	Slug string
	// APIURL is Sentry's API origin, without /api/0 (default
	// https://sentry.io; a self-hosted Sentry or a region such as
	// https://us.sentry.io otherwise), and WebURL its web app, where the
	// install page is (default https://sentry.io).
	APIURL, WebURL string
	// HTTPClient makes every call; default one with a 30 s timeout. Calls
	// also end with the caller's context.
	HTTPClient *http.Client
	// Now is the clock a token's expiry is estimated with when Sentry's
	// answer has none; default time.Now.
	Now func() time.Time
}

// Connector is the Sentry public integration flow: install, code exchange
// on the installation's authorizations endpoint, refresh (rotating the
// refresh token), the organization's projects, and the projects' issues
// for backfills. It implements relay.Connector and relay.BackfillLister and
// is safe for concurrent use.
type Connector struct {
	cfg  ConnectorConfig
	api  *httpjson.Client // API calls with retries (backfill)
	flow *httpjson.Client // the connect flow's and lifecycle's calls
}

var (
	_ relay.Connector      = (*Connector)(nil)
	_ relay.BackfillLister = (*Connector)(nil)
)

// NewConnector returns the connector for cfg. It returns an error when
// ClientID, ClientSecret or Slug is missing.
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.Slug == "" {
		return nil, errors.New("sentry: connector needs client_id, client_secret and slug")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://sentry.io"
	}
	if cfg.WebURL == "" {
		cfg.WebURL = "https://sentry.io"
	}
	cfg.APIURL, cfg.WebURL = strings.TrimRight(cfg.APIURL, "/"), strings.TrimRight(cfg.WebURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	api := &httpjson.Client{HTTP: cfg.HTTPClient, Provider: "sentry", Attempts: 3, DeferLimits: true,
		RateLimit: httpjson.EpochRateLimit("X-Sentry-Rate-Limit-Limit", "X-Sentry-Rate-Limit-Remaining", "X-Sentry-Rate-Limit-Reset", false)}
	return &Connector{cfg: cfg, api: api, flow: httpjson.NewFlowClient(cfg.HTTPClient, "sentry", api.RateLimit)}, nil
}

// Name returns "sentry".
func (c *Connector) Name() string { return "sentry" }

// PKCE is false: Sentry's install flow takes no code challenge; its code is
// exchanged with the client secret.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the integration's external install page,
// {WebURL}/sentry-apps/{Slug}/external-install/?state=…. The path is
// UNCONFIRMED against Sentry's documentation, hence WebURL and Slug are
// configurable. Sentry sends the browser to the redirect URL configured on
// the integration (not redirectURI) with code, installationId and orgSlug.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/sentry-apps/" + url.PathEscape(c.cfg.Slug) + "/external-install/?" + url.Values{"state": {state}}.Encode()
}

// tokenAnswer is the authorizations endpoint's answer.
type tokenAnswer struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
	ExpiresAt    string `json:"expiresAt"`
}

// token converts the answer; a missing or unreadable expiresAt is taken as
// Sentry's documented 8 hours, so the token is refreshed in time.
func (c *Connector) token(a tokenAnswer) *relay.Token {
	t := &relay.Token{AccessToken: a.Token, RefreshToken: a.RefreshToken, TokenType: "Bearer"}
	if exp, err := time.Parse(time.RFC3339Nano, a.ExpiresAt); err == nil {
		t.ExpiresAt = exp.UTC()
	} else {
		t.ExpiresAt = c.cfg.Now().Add(8 * time.Hour).UTC()
	}
	return t
}

// Exchange completes the install's redirect: it trades code for tokens at
// POST /api/0/sentry-app-installations/{installationId}/authorizations/,
// reads the installation's organization, and lists the organization's
// projects. The connection's ExternalID is installationId, the installation
// uuid the webhook adapter reads as AccountID (installation.uuid); Sentry
// binds the code to it, so a forged installationId fails the exchange.
// AccountName and Metadata["org_slug"] are the organization's slug from
// Sentry's installation details (GET /api/0/sentry-app-installations/{id}/,
// organization.slug — UNCONFIRMED that an integration token may read its
// own installation), never the redirect's orgSlug, which anyone can write.
//
// It returns EINVALID when code or installationId is missing, or Sentry
// refuses the code (bad, used, or of another installation); EUNAVAILABLE
// when Sentry fails or times out.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	inst, code := q.Get("installationId"), q.Get("code")
	if inst == "" || code == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: the callback needs code and installationId")
	}
	ta, err := c.authorize(ctx, inst, "exchange code", map[string]string{"grant_type": "authorization_code", "code": code})
	if err != nil {
		return nil, err
	}
	tok := c.token(ta)
	var in struct {
		Organization struct {
			Slug string `json:"slug"`
		} `json:"organization"`
	}
	if _, err := c.flow.Call(ctx, "read installation", http.MethodGet,
		c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(inst)+"/", c.auth(tok), nil, &in); err != nil {
		return nil, err
	}
	org := in.Organization.Slug
	if org == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: read installation: no organization in the answer")
	}
	conn := &relay.Connection{Provider: "sentry", ExternalID: inst, AccountName: org, Status: relay.ConnectionActive,
		Metadata: map[string]string{"org_slug": org}}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// authorize posts a grant to the installation's authorizations endpoint
// with the client credentials.
func (c *Connector) authorize(ctx context.Context, inst, what string, grant map[string]string) (tokenAnswer, error) {
	grant["client_id"], grant["client_secret"] = c.cfg.ClientID, c.cfg.ClientSecret
	var ta tokenAnswer
	if _, err := c.flow.Call(ctx, what, http.MethodPost,
		c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(inst)+"/authorizations/", nil, grant, &ta); err != nil {
		return ta, err
	}
	if ta.Token == "" {
		return ta, relay.Errorf(relay.EUNAVAILABLE, "sentry: %s: no token in the answer", what)
	}
	return ta, nil
}

func (c *Connector) auth(t *relay.Token) http.Header {
	return http.Header{"Authorization": {"Bearer " + t.AccessToken}}
}

// Refresh trades the refresh token for new tokens (grant_type
// refresh_token on the authorizations endpoint). Sentry rotates the refresh
// token: the returned one replaces t's, which no longer works. It returns
// EINVALID when the connection has no refresh token or Sentry refuses it,
// EUNAVAILABLE when Sentry fails.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	if t == nil || t.RefreshToken == "" || conn.ExternalID == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: refresh token: the connection has no refresh token")
	}
	ta, err := c.authorize(ctx, conn.ExternalID, "refresh token", map[string]string{"grant_type": "refresh_token", "refresh_token": t.RefreshToken})
	if err != nil {
		return nil, err
	}
	return c.token(ta), nil
}

// Revoke returns nil without calling Sentry: Sentry documents no
// revocation endpoint for integration tokens. The tokens end when the
// organization uninstalls the integration in Sentry (which Relay learns
// from installation.deleted); teardown records that revocation is not
// supported.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	return nil
}

// Resources lists the organization's projects (GET
// /api/0/organizations/{org}/projects/; Kind "project", ExternalID the
// project id, Name its slug), following Link rel="next" until it says
// results="false". The organization is Metadata["org_slug"], else
// AccountName. It returns EINVALID when Sentry refuses the token,
// EUNAVAILABLE when it fails.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	org := conn.Metadata["org_slug"]
	if org == "" {
		org = conn.AccountName
	}
	if org == "" || t == nil || t.AccessToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: list projects: the connection has no organization or token")
	}
	out := []*relay.Resource{}
	next := c.cfg.APIURL + "/api/0/organizations/" + url.PathEscape(org) + "/projects/"
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: list projects: more than %d pages", maxPages)
		}
		var page []struct {
			ID   id  `json:"id"`
			Slug str `json:"slug"`
		}
		resp, err := c.flow.Call(ctx, "list projects", http.MethodGet, next, c.auth(t), nil, &page)
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			if p.ID != "" {
				out = append(out, &relay.Resource{Provider: "sentry", ExternalID: string(p.ID), Kind: "project", Name: string(p.Slug)})
			}
		}
		next = httpjson.NextLink(resp.Header.Get("Link"))
		if next != "" && !c.sameOrigin(next) {
			// The token is only ever sent to the configured API.
			return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: list projects: the next page is on another host")
		}
	}
	return out, nil
}

// maxPages bounds a listing, in case a server's Link never ends.
const maxPages = 1000

func (c *Connector) sameOrigin(u string) bool {
	next, err1 := url.Parse(u)
	api, err2 := url.Parse(c.cfg.APIURL)
	return err1 == nil && err2 == nil && next.Scheme == api.Scheme && next.Host == api.Host
}
