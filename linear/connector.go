package linear

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// DefaultResourceTypes are the entities a webhook registered by
// RegisterWebhook subscribes to when ConnectorConfig.ResourceTypes is empty.
var DefaultResourceTypes = []string{"Issue", "Comment", "Project", "Cycle", "IssueLabel", "Reaction"}

// ConnectorConfig configures the Linear OAuth connect flow.
type ConnectorConfig struct {
	// ClientID and ClientSecret identify the OAuth application (required).
	ClientID, ClientSecret string
	// Scopes requested; default ["read"]. Linear separates them with commas.
	Scopes []string
	// Actor is who actions are attributed to: "app" (default) or "user".
	Actor string
	// APIURL is Linear's API (default https://api.linear.app) and WebURL its
	// web app, where the consent page is (default https://linear.app).
	APIURL, WebURL string
	// ResourceTypes a registered webhook subscribes to; default
	// DefaultResourceTypes.
	ResourceTypes []string
	// HTTPClient makes every call; default one with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock token expiries are computed with; default time.Now.
	Now func() time.Time
}

// Connector is the Linear OAuth flow (PKCE), workspace and teams lookup,
// webhook registration, and the teams' issues and comments for backfills.
// It implements relay.Connector, relay.WebhookRegistrar and
// relay.BackfillLister, and is safe for concurrent use.
type Connector struct {
	cfg   ConnectorConfig
	oauth oauth2.Config
	api   *httpjson.Client // GraphQL calls with retries (backfill)
	flow  *httpjson.Client // the connect flow's and lifecycle's calls
}

var (
	_ relay.Connector        = (*Connector)(nil)
	_ relay.WebhookRegistrar = (*Connector)(nil)
	_ relay.BackfillLister   = (*Connector)(nil)
)

// NewConnector returns the connector for cfg. It returns an error when
// ClientID or ClientSecret is missing or Actor is not "app" or "user".
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("linear: connector needs client_id and client_secret")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.linear.app"
	}
	if cfg.WebURL == "" {
		cfg.WebURL = "https://linear.app"
	}
	cfg.APIURL, cfg.WebURL = strings.TrimRight(cfg.APIURL, "/"), strings.TrimRight(cfg.WebURL, "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"read"}
	}
	switch cfg.Actor {
	case "":
		cfg.Actor = "app"
	case "app", "user":
	default:
		return nil, fmt.Errorf("linear: actor must be app or user, not %q", cfg.Actor)
	}
	if len(cfg.ResourceTypes) == 0 {
		cfg.ResourceTypes = DefaultResourceTypes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	api := &httpjson.Client{HTTP: cfg.HTTPClient, Provider: "linear", Attempts: 3, DeferLimits: true,
		RateLimit: rateLimit, Classify: graphQLStatus}
	flow := httpjson.NewFlowClient(cfg.HTTPClient, "linear", rateLimit)
	flow.Classify = graphQLStatus
	return &Connector{cfg: cfg, api: api, flow: flow, oauth: oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scopes: cfg.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: cfg.WebURL + "/oauth/authorize", TokenURL: cfg.APIURL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams},
	}}, nil
}

// Name returns "linear".
func (c *Connector) Name() string { return "linear" }

// PKCE is true: Linear takes S256 code challenges.
func (c *Connector) PKCE() bool { return true }

// AuthorizeURL is Linear's consent page. It is built by hand rather than
// with oauth2.Config.AuthCodeURL because Linear separates scopes with
// commas, not spaces.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	q := url.Values{
		"client_id": {c.cfg.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {strings.Join(c.cfg.Scopes, ",")}, "state": {state}, "actor": {c.cfg.Actor},
		"code_challenge": {codeChallenge}, "code_challenge_method": {"S256"},
	}
	return c.oauth.Endpoint.AuthURL + "?" + q.Encode()
}

// oauthContext makes x/oauth2 use the configured client.
func (c *Connector) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
}

// Exchange completes Linear's redirect: it trades the code (with the PKCE
// verifier) for tokens, then reads the workspace and its teams. The
// connection's ExternalID is the organization id, which is what the webhook
// adapter reads from organizationId. It returns EINVALID when the user
// denied consent, the callback has no code or Linear refuses the code, and
// EUNAVAILABLE when Linear fails.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	if e := q.Get("error"); e != "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: consent denied: %s", truncate(e, 100))
	}
	code := q.Get("code")
	if code == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: the callback has no code")
	}
	oc := c.oauth
	oc.RedirectURL = redirectURI
	ot, err := oc.Exchange(c.oauthContext(ctx), code, oauth2.VerifierOption(codeVerifier))
	if err != nil {
		return nil, httpjson.OAuthError(ctx, "linear", "exchange code", err)
	}
	tok := c.fromOAuth(ot)
	var data struct {
		Viewer struct {
			ID string `json:"id"`
		} `json:"viewer"`
		Organization struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			URLKey string `json:"urlKey"`
		} `json:"organization"`
	}
	if _, err := c.graphql(ctx, tok.AccessToken, "read workspace",
		`query Workspace { viewer { id } organization { id name urlKey } }`, nil, &data); err != nil {
		return nil, err
	}
	if data.Organization.ID == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: read workspace: no organization in the answer")
	}
	meta := map[string]string{}
	if data.Organization.URLKey != "" {
		meta["url_key"] = data.Organization.URLKey
	}
	if data.Viewer.ID != "" {
		meta["viewer_id"] = data.Viewer.ID
	}
	conn := &relay.Connection{Provider: "linear", ExternalID: data.Organization.ID, AccountName: data.Organization.Name,
		Status: relay.ConnectionActive, Metadata: meta}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh trades the refresh token for a new access token. Linear rotates
// refresh tokens: the returned one replaces the old, which no longer works.
// When Linear's answer has no expires_in the returned ExpiresAt is zero, and
// when it repeats the refresh token RefreshToken is "" (the caller keeps
// what it has). EINVALID when the connection has no refresh token or Linear
// refuses it (connect again), EUNAVAILABLE when Linear fails.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	if t.RefreshToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: the connection has no refresh token; connect again")
	}
	// A token without an access token is invalid, so the source refreshes
	// at once.
	ot, err := c.oauth.TokenSource(c.oauthContext(ctx), &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
	if err != nil {
		return nil, httpjson.OAuthError(ctx, "linear", "refresh token", err)
	}
	fresh := c.fromOAuth(ot)
	if ot.RefreshToken == t.RefreshToken {
		fresh.RefreshToken = "" // not rotated (x/oauth2 fills in the one sent)
	}
	return fresh, nil
}

// Revoke revokes the access token with POST {APIURL}/oauth/revoke. The
// endpoint is UNCONFIRMED in Linear's documentation (docs/providers.md): it is
// called RFC 7009 style (form field token, and the token as bearer), and a
// 400 or 401 — what a token Linear no longer knows gets — counts as revoked.
// EINVALID for another refusal, EUNAVAILABLE when Linear fails.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	resp, err := c.flow.Call(ctx, "revoke token", http.MethodPost, c.cfg.APIURL+"/oauth/revoke",
		http.Header{"Authorization": {"Bearer " + t.AccessToken}}, url.Values{"token": {t.AccessToken}}, nil)
	switch httpjson.Code(resp) {
	case http.StatusBadRequest, http.StatusUnauthorized:
		return nil
	}
	return err
}

// Resources lists the workspace's teams (Kind "team"), following Linear's
// Relay-style cursors 50 at a time. Errors as for graphql.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	var out []*relay.Resource
	var cursor *string
	// The bound stops a provider that keeps answering hasNextPage.
	for range 1000 {
		var data struct {
			Teams struct {
				Nodes []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
					Key  string `json:"key"`
				} `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"teams"`
		}
		_, err := c.graphql(ctx, t.AccessToken, "list teams",
			`query Teams($cursor: String) { teams(first: 50, after: $cursor) { nodes { id name key } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"cursor": cursor}, &data)
		if err != nil {
			return nil, err
		}
		for _, n := range data.Teams.Nodes {
			out = append(out, &relay.Resource{Provider: "linear", ExternalID: n.ID, Kind: "team", Name: n.Name})
		}
		next := data.Teams.PageInfo.EndCursor
		if !data.Teams.PageInfo.HasNextPage || next == "" || (cursor != nil && next == *cursor) {
			return out, nil
		}
		cursor = &next
	}
	return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: list teams: too many pages")
}

// RegisterWebhook creates a workspace webhook (all public teams, the
// configured resource types, label "Relay") for u, authorized with the
// workspace's own access token, and returns its id and signing secret. The
// secret is the webhook's own, generated here (32 random bytes, hex) — or
// the one Linear answers with, should it differ: a workspace's admins can
// read it in Linear, so no two workspaces share one, and the caller keeps
// it to verify this webhook's deliveries. EINVALID when Linear refuses it,
// EUNAVAILABLE when it fails.
func (c *Connector) RegisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, u string) (string, string, error) {
	var data struct {
		WebhookCreate struct {
			Success bool `json:"success"`
			Webhook struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			} `json:"webhook"`
		} `json:"webhookCreate"`
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return "", "", err
	}
	input := map[string]any{"url": u, "resourceTypes": c.cfg.ResourceTypes, "allPublicTeams": true,
		"label": "Relay", "enabled": true, "secret": secret}
	_, err = c.graphql(ctx, t.AccessToken, "create webhook",
		`mutation WebhookCreate($input: WebhookCreateInput!) { webhookCreate(input: $input) { success webhook { id enabled secret } } }`,
		map[string]any{"input": input}, &data)
	if err != nil {
		return "", "", err
	}
	if !data.WebhookCreate.Success || data.WebhookCreate.Webhook.ID == "" {
		return "", "", relay.Errorf(relay.EUNAVAILABLE, "linear: create webhook: not created")
	}
	if s := data.WebhookCreate.Webhook.Secret; s != "" {
		secret = s
	}
	return data.WebhookCreate.Webhook.ID, secret, nil
}

// newWebhookSecret returns 32 random bytes, hex-encoded.
func newWebhookSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("linear: create webhook: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// DeregisterWebhook deletes the webhook with the workspace's token; one
// Linear no longer has is not an error. EINVALID when Linear refuses,
// EUNAVAILABLE when it fails.
func (c *Connector) DeregisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, id string) error {
	var data struct {
		WebhookDelete struct {
			Success bool `json:"success"`
		} `json:"webhookDelete"`
	}
	resp, err := c.graphql(ctx, t.AccessToken, "delete webhook",
		`mutation WebhookDelete($id: String!) { webhookDelete(id: $id) { success } }`, map[string]any{"id": id}, &data)
	if httpjson.Code(resp) == http.StatusNotFound {
		return nil
	}
	if err == nil && !data.WebhookDelete.Success {
		return relay.Errorf(relay.EUNAVAILABLE, "linear: delete webhook: not deleted")
	}
	return err
}

// graphql posts a query with the access token as bearer and decodes the
// answer's data into out. A non-2xx status or a GraphQL error (Linear
// answers those with HTTP 200 or 400 and "errors"; see graphQLStatus) is an
// *Error: EUNAVAILABLE for 5xx, 429, rate limiting and Linear's internal
// errors; EINVALID otherwise (authentication, bad input, not found), with
// the answer's status (404 for not found, 401 for a refused token) in the
// Response. The message names the call and carries Linear's message, never
// the token.
func (c *Connector) graphql(ctx context.Context, token, what, query string, vars map[string]any, out any) (*httpjson.Response, error) {
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	resp, err := c.flow.Call(ctx, what, http.MethodPost, c.cfg.APIURL+"/graphql",
		http.Header{"Authorization": {"Bearer " + token}}, map[string]any{"query": query, "variables": vars}, &envelope)
	if err != nil {
		return resp, err
	}
	if len(envelope.Data) == 0 || string(envelope.Data) == "null" {
		return resp, relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed answer", what)
	}
	if err := json.Unmarshal(envelope.Data, out); err != nil {
		return resp, relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed data", what)
	}
	return resp, nil
}

// fromOAuth converts x/oauth2's token, computing the expiry from
// expires_in on the configured clock (x/oauth2 uses the wall clock).
func (c *Connector) fromOAuth(t *oauth2.Token) *relay.Token {
	out := &relay.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType}
	if t.ExpiresIn > 0 {
		out.ExpiresAt = c.cfg.Now().Add(time.Duration(t.ExpiresIn) * time.Second).UTC()
	}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
