package linear

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
)

// ConnectorConfig configures the Linear OAuth connect flow.
type ConnectorConfig struct {
	ClientID, ClientSecret string
	Scopes                 []string // default read
	Actor                  string   // "app" (default) or "user"
	APIURL                 string   // https://api.linear.app
	WebURL                 string   // https://linear.app
	// WebhookSecret is the secret Relay's linear adapter verifies with; a
	// webhook registered through the API is created with it.
	WebhookSecret string
	// ResourceTypes a registered webhook subscribes to.
	ResourceTypes []string
	HTTPClient    *http.Client // default: 30 s timeout
}

// Connector is the Linear OAuth flow (PKCE), workspace and teams lookup, and
// webhook registration. It implements relay.Connector and
// relay.WebhookRegistrar.
type Connector struct {
	cfg   ConnectorConfig
	oauth *oauth2.Config
}

var (
	_ relay.Connector        = (*Connector)(nil)
	_ relay.WebhookRegistrar = (*Connector)(nil)
)

// NewConnector returns the connector; ClientID and ClientSecret are required.
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
	if cfg.Actor == "" {
		cfg.Actor = "app"
	}
	if len(cfg.ResourceTypes) == 0 {
		cfg.ResourceTypes = []string{"Issue", "Comment", "Project", "Cycle", "IssueLabel", "Reaction"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Connector{cfg: cfg, oauth: &oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scopes: cfg.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: cfg.WebURL + "/oauth/authorize", TokenURL: cfg.APIURL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams},
	}}, nil
}

// Name returns "linear".
func (c *Connector) Name() string { return "linear" }

// PKCE is true: Linear supports S256 code challenges.
func (c *Connector) PKCE() bool { return true }

// AuthorizeURL is Linear's consent page. Linear separates scopes with
// commas, not spaces.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	q := url.Values{
		"client_id": {c.cfg.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {strings.Join(c.cfg.Scopes, ",")}, "state": {state}, "actor": {c.cfg.Actor},
		"code_challenge": {codeChallenge}, "code_challenge_method": {"S256"}, "prompt": {"consent"},
	}
	return c.cfg.WebURL + "/oauth/authorize?" + q.Encode()
}

func (c *Connector) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
}

// Exchange trades the code (with the PKCE verifier) for tokens, then reads
// the workspace and its teams.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	if e := q.Get("error"); e != "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: consent denied: %s", truncate(e, 100))
	}
	code := q.Get("code")
	if code == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: the callback has no code")
	}
	oc := *c.oauth
	oc.RedirectURL = redirectURI
	ot, err := oc.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(codeVerifier))
	if err != nil {
		return nil, oauthError("exchange code", err)
	}
	tok := fromOAuth(ot)
	var data struct {
		Organization struct {
			ID, Name, URLKey string
		} `json:"organization"`
	}
	if err := c.graphql(ctx, tok.AccessToken, "read workspace", `query { organization { id name urlKey } }`, nil, &data); err != nil {
		return nil, err
	}
	if data.Organization.ID == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: read workspace: no organization in the answer")
	}
	conn := &relay.Connection{ExternalID: data.Organization.ID, AccountName: data.Organization.Name,
		Status: relay.ConnectionActive, Metadata: map[string]string{"url_key": data.Organization.URLKey}}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh uses the refresh token; Linear rotates it.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	if t.RefreshToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: the connection has no refresh token; connect again")
	}
	// An expired token makes the token source refresh at once.
	src := c.oauth.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: t.RefreshToken, Expiry: time.Unix(1, 0)})
	ot, err := src.Token()
	if err != nil {
		return nil, oauthError("refresh token", err)
	}
	fresh := fromOAuth(ot)
	if ot.RefreshToken == t.RefreshToken {
		fresh.RefreshToken = "" // not rotated: the caller keeps the old one
	}
	return fresh, nil
}

// Revoke revokes the access token (POST /oauth/revoke; UNCONFIRMED in
// Linear's docs). A token Linear no longer knows is not an error.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/oauth/revoke",
		strings.NewReader(url.Values{"token": {t.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "linear: revoke token: %s", transportError(err))
	}
	defer drain(resp)
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == 400, resp.StatusCode == 401:
		return nil
	default:
		return statusError("revoke token", resp)
	}
}

// Resources lists the workspace's teams, following Relay-style cursors.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	var out []*relay.Resource
	var after *string
	for pages := 0; pages < 1000; pages++ {
		var data struct {
			Teams struct {
				Nodes []struct {
					ID, Name, Key string
				} `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"teams"`
		}
		err := c.graphql(ctx, t.AccessToken, "list teams",
			`query Teams($after: String) { teams(first: 50, after: $after) { nodes { id name key } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": after}, &data)
		if err != nil {
			return nil, err
		}
		for _, n := range data.Teams.Nodes {
			out = append(out, &relay.Resource{Provider: "linear", ExternalID: n.ID, Kind: "team", Name: n.Name})
		}
		if !data.Teams.PageInfo.HasNextPage {
			break
		}
		cur := data.Teams.PageInfo.EndCursor
		after = &cur
	}
	return out, nil
}

// RegisterWebhook creates a workspace webhook for all public teams, signed
// with the adapter's secret, using the workspace's own access token.
func (c *Connector) RegisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, u string) (string, string, error) {
	var data struct {
		WebhookCreate struct {
			Success bool `json:"success"`
			Webhook struct {
				ID string `json:"id"`
			} `json:"webhook"`
		} `json:"webhookCreate"`
	}
	input := map[string]any{"url": u, "resourceTypes": c.cfg.ResourceTypes, "allPublicTeams": true,
		"label": "Relay", "enabled": true}
	if c.cfg.WebhookSecret != "" {
		input["secret"] = c.cfg.WebhookSecret
	}
	err := c.graphql(ctx, t.AccessToken, "create webhook",
		`mutation Create($input: WebhookCreateInput!) { webhookCreate(input: $input) { success webhook { id } } }`,
		map[string]any{"input": input}, &data)
	if err != nil {
		return "", "", err
	}
	if !data.WebhookCreate.Success || data.WebhookCreate.Webhook.ID == "" {
		return "", "", relay.Errorf(relay.EUNAVAILABLE, "linear: create webhook: not created")
	}
	return data.WebhookCreate.Webhook.ID, "", nil
}

// DeregisterWebhook deletes the webhook; one already gone is not an error.
func (c *Connector) DeregisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, id string) error {
	var data struct {
		WebhookDelete struct {
			Success bool `json:"success"`
		} `json:"webhookDelete"`
	}
	err := c.graphql(ctx, t.AccessToken, "delete webhook",
		`mutation Delete($id: String!) { webhookDelete(id: $id) { success } }`, map[string]any{"id": id}, &data)
	if err != nil && strings.Contains(strings.ToLower(relay.ErrorMessage(err)), "not found") {
		return nil
	}
	return err
}

// graphql posts a query with the access token and decodes data into out.
// GraphQL errors (HTTP 200 with "errors") become *Error values.
func (c *Connector) graphql(ctx context.Context, token, what, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "linear: %s: %s", what, transportError(err))
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return statusError(what, resp)
	}
	var envelope struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&envelope); err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed answer", what)
	}
	if len(envelope.Errors) > 0 {
		e := envelope.Errors[0]
		code := relay.EINVALID
		if e.Extensions.Code == "RATELIMITED" || e.Extensions.Code == "INTERNAL_SERVER_ERROR" {
			code = relay.EUNAVAILABLE
		}
		return relay.Errorf(code, "linear: %s: %s", what, truncate(e.Message, 200))
	}
	if err := json.Unmarshal(envelope.Data, out); err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed data", what)
	}
	return nil
}

func fromOAuth(t *oauth2.Token) *relay.Token {
	out := &relay.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType}
	if !t.Expiry.IsZero() {
		out.ExpiresAt = t.Expiry.UTC()
	}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}

// oauthError maps an oauth2 failure: the provider refusing (4xx) is
// EINVALID, anything else EUNAVAILABLE. The provider's error code is kept;
// its body is not (it could echo a code).
func oauthError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := fmt.Sprintf("linear: %s: HTTP %d", what, re.Response.StatusCode)
		if re.ErrorCode != "" {
			msg += ": " + truncate(re.ErrorCode, 60)
		}
		if re.Response.StatusCode >= 500 || re.Response.StatusCode == 429 {
			return relay.Errorf(relay.EUNAVAILABLE, "%s", msg)
		}
		return relay.Errorf(relay.EINVALID, "%s", msg)
	}
	return relay.Errorf(relay.EUNAVAILABLE, "linear: %s: %s", what, transportError(err))
}

func statusError(what string, resp *http.Response) error {
	msg := fmt.Sprintf("linear: %s: HTTP %d", what, resp.StatusCode)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return relay.Errorf(relay.EUNAVAILABLE, "%s", msg)
	}
	return relay.Errorf(relay.EINVALID, "%s", msg)
}

func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		return ue.Err.Error()
	}
	return "request failed"
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
