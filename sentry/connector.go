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

// ConnectorConfig configures the Sentry integration's install flow.
type ConnectorConfig struct {
	ClientID, ClientSecret string
	Slug                   string // the integration's slug, for the install URL
	APIURL                 string // https://sentry.io
	WebURL                 string // https://sentry.io
	HTTPClient             *http.Client
}

// Connector is the Sentry public integration flow: install, code exchange
// on the installation's authorizations endpoint, refresh (rotating), and
// the organization's projects. It implements relay.Connector.
type Connector struct{ cfg ConnectorConfig }

var _ relay.Connector = (*Connector)(nil)

// NewConnector returns the connector; ClientID, ClientSecret and Slug are required.
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
	return &Connector{cfg: cfg}, nil
}

// Name returns "sentry".
func (c *Connector) Name() string { return "sentry" }

// PKCE is false: the install flow's code is exchanged with the client secret.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the integration's external install page (the path is
// UNCONFIRMED in Sentry's docs; the web URL is configurable). Sentry sends
// the browser to the integration's redirect URL with code, installationId
// and orgSlug.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/sentry-apps/" + url.PathEscape(c.cfg.Slug) + "/external-install/?" + url.Values{"state": {state}}.Encode()
}

type tokenAnswer struct {
	Token        string    `json:"token"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

func (t tokenAnswer) token() *relay.Token {
	return &relay.Token{AccessToken: t.Token, RefreshToken: t.RefreshToken, TokenType: "Bearer", ExpiresAt: t.ExpiresAt.UTC()}
}

// Exchange trades the install's code for tokens and lists the organization's
// projects.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	inst, code := q.Get("installationId"), q.Get("code")
	if inst == "" || code == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: the callback needs code and installationId")
	}
	var ta tokenAnswer
	if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "sentry", "exchange code", http.MethodPost,
		c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(inst)+"/authorizations/", nil,
		map[string]string{"grant_type": "authorization_code", "code": code, "client_id": c.cfg.ClientID,
			"client_secret": c.cfg.ClientSecret}, &ta); err != nil {
		return nil, err
	}
	if ta.Token == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: exchange code: no token in the answer")
	}
	tok := ta.token()
	org := q.Get("orgSlug")
	if org == "" {
		var in struct {
			Organization struct {
				Slug string `json:"slug"`
			} `json:"organization"`
		}
		if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "sentry", "read installation", http.MethodGet,
			c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(inst)+"/", c.auth(tok), nil, &in); err != nil {
			return nil, err
		}
		org = in.Organization.Slug
	}
	conn := &relay.Connection{ExternalID: inst, AccountName: org, Status: relay.ConnectionActive,
		Metadata: map[string]string{"org_slug": org}}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

func (c *Connector) auth(t *relay.Token) http.Header {
	return http.Header{"Authorization": {"Bearer " + t.AccessToken}}
}

// Refresh trades the refresh token (Sentry rotates it) for new tokens.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	var ta tokenAnswer
	if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "sentry", "refresh token", http.MethodPost,
		c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(conn.ExternalID)+"/authorizations/", nil,
		map[string]string{"grant_type": "refresh_token", "refresh_token": t.RefreshToken, "client_id": c.cfg.ClientID,
			"client_secret": c.cfg.ClientSecret}, &ta); err != nil {
		return nil, err
	}
	return ta.token(), nil
}

// Revoke does nothing: Sentry documents no revocation endpoint for
// integration tokens; uninstalling the integration (in Sentry) revokes them.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	return nil
}

// Resources lists the organization's projects, following Sentry's Link
// cursors until results="false".
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	org := conn.Metadata["org_slug"]
	if org == "" {
		org = conn.AccountName
	}
	var out []*relay.Resource
	next := c.cfg.APIURL + "/api/0/organizations/" + url.PathEscape(org) + "/projects/"
	for pages := 0; next != "" && pages < 1000; pages++ {
		var page []struct {
			ID   string `json:"id"`
			Slug string `json:"slug"`
		}
		resp, err := httpjson.Do(ctx, c.cfg.HTTPClient, "sentry", "list projects", http.MethodGet, next, c.auth(t), nil, &page)
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			out = append(out, &relay.Resource{Provider: "sentry", ExternalID: p.ID, Kind: "project", Name: p.Slug})
		}
		next = httpjson.NextLink(resp.Header.Get("Link"))
	}
	return out, nil
}
