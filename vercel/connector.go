package vercel

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// DefaultWebhookEvents are the events a webhook registered by
// RegisterWebhook subscribes to when ConnectorConfig.WebhookEvents is empty.
var DefaultWebhookEvents = []string{"deployment.created", "deployment.succeeded", "deployment.error", "deployment.canceled", "project.created", "project.removed"}

// ConnectorConfig configures the Vercel integration's install flow.
type ConnectorConfig struct {
	// ClientID and ClientSecret identify the integration (required).
	ClientID, ClientSecret string
	// Slug is the integration's slug, for the install URL (required).
	Slug string
	// APIURL is Vercel's API (default https://api.vercel.com) and WebURL
	// its dashboard, where the install page is (default https://vercel.com).
	APIURL, WebURL string
	// WebhookEvents a registered webhook subscribes to; default
	// DefaultWebhookEvents.
	WebhookEvents []string
	// HTTPClient makes every call; default one with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the connector's clock; default time.Now. Vercel's tokens carry
	// no expiry, so nothing reads it yet: it is here so that every
	// connector is configured alike.
	Now func() time.Time
}

// Connector is the Vercel integration flow: install, code exchange,
// projects, webhooks through the API, and the projects' deployments for
// backfills. It implements relay.Connector, relay.WebhookRegistrar and
// relay.BackfillLister, and is safe for concurrent use.
type Connector struct {
	cfg  ConnectorConfig
	api  *httpjson.Client // API calls with retries (backfill)
	flow *httpjson.Client // the connect flow's and lifecycle's calls
}

var (
	_ relay.Connector        = (*Connector)(nil)
	_ relay.WebhookRegistrar = (*Connector)(nil)
	_ relay.BackfillLister   = (*Connector)(nil)
)

// NewConnector returns the connector for cfg. It returns an error when
// ClientID, ClientSecret or Slug is missing.
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.Slug == "" {
		return nil, errors.New("vercel: connector needs client_id, client_secret and slug")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.vercel.com"
	}
	if cfg.WebURL == "" {
		cfg.WebURL = "https://vercel.com"
	}
	cfg.APIURL, cfg.WebURL = strings.TrimRight(cfg.APIURL, "/"), strings.TrimRight(cfg.WebURL, "/")
	if len(cfg.WebhookEvents) == 0 {
		cfg.WebhookEvents = DefaultWebhookEvents
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Both clients read Vercel's refusal of a token (a 403) as the 401 it
	// means; see rejectedToken.
	api := &httpjson.Client{HTTP: cfg.HTTPClient, Provider: "vercel", Attempts: 3, DeferLimits: true,
		RateLimit: httpjson.EpochRateLimit("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", false),
		Classify:  rejectedToken}
	flow := httpjson.NewFlowClient(cfg.HTTPClient, "vercel", api.RateLimit)
	flow.Classify = rejectedToken
	return &Connector{cfg: cfg, api: api, flow: flow}, nil
}

// Name returns "vercel".
func (c *Connector) Name() string { return "vercel" }

// PKCE is false: Vercel's integration install takes no code challenge.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the integration's install page; Vercel sends the user
// back to the integration's configured redirect URL, so redirectURI (and
// codeChallenge) are not part of it.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/integrations/" + url.PathEscape(c.cfg.Slug) + "/new?" + url.Values{"state": {state}}.Encode()
}

// Exchange completes the install's redirect (code, configurationId, teamId
// for team installs, next): it trades the code for the installation's
// long-lived token and lists its projects. The connection's ExternalID is
// the team id, or the user id for a personal account — what the webhook
// adapter reads as AccountID (payload.team.id, else payload.user.id). Its
// Metadata holds configuration_id, team_id and user_id (those known); API
// calls add ?teamId= when team_id is set. All of them come from Vercel's
// token answer (installation_id, team_id, user_id), never from the
// redirect's configurationId and teamId, which anyone can write. EINVALID when the callback has
// no code or an error, or Vercel refuses the code; EUNAVAILABLE when Vercel
// fails.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	// Vercel documents no error parameter on the install redirect; one is
	// honoured in case a cancelled install sends it, as OAuth would.
	if e := q.Get("error"); e != "" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: install not completed: %s", truncate(e, 100))
	}
	code := q.Get("code")
	if code == "" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: the callback has no code")
	}
	var out struct {
		AccessToken    string `json:"access_token"`
		TokenType      string `json:"token_type"`
		InstallationID string `json:"installation_id"`
		UserID         string `json:"user_id"`
		TeamID         string `json:"team_id"` // null for personal accounts
	}
	if _, err := c.flow.Call(ctx, "exchange code", http.MethodPost, c.cfg.APIURL+"/v2/oauth/access_token",
		nil, url.Values{"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}, "code": {code},
			"redirect_uri": {redirectURI}}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "vercel: exchange code: no token in the answer")
	}
	acct := out.TeamID
	if acct == "" {
		acct = out.UserID
	}
	if acct == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "vercel: exchange code: no team or user in the answer")
	}
	// The redirect's configurationId names the same installation as the
	// answer's installation_id, but only the answer is Vercel's word: a
	// forged one would point Revoke at another account's configuration.
	meta := map[string]string{}
	for k, v := range map[string]string{"configuration_id": out.InstallationID, "team_id": out.TeamID, "user_id": out.UserID} {
		if v != "" {
			meta[k] = v
		}
	}
	conn := &relay.Connection{Provider: "vercel", ExternalID: acct, Status: relay.ConnectionActive, Metadata: meta}
	tok := &relay.Token{AccessToken: out.AccessToken, TokenType: out.TokenType}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh returns the token as it is, without calling Vercel: integration
// tokens do not expire and have no refresh token. Returning it (rather than
// an error) lets callers refresh every connection alike. It never fails.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	same := *t
	return &same, nil
}

// Revoke uninstalls the integration (DELETE
// /v1/integrations/configuration/{configuration_id}), which ends the token.
// Vercel documents no token revocation (UNCONFIRMED in docs/providers.md), so
// this is best effort: a configuration already gone (404) or a token Vercel
// no longer accepts (401, 403: the configuration was removed) is not an
// error, and a connection without a configuration id has nothing to remove.
// EINVALID for another refusal, EUNAVAILABLE when Vercel fails.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	id := conn.Metadata["configuration_id"]
	if id == "" {
		return nil
	}
	resp, err := c.flow.Call(ctx, "remove configuration", http.MethodDelete,
		c.withTeam(conn, c.cfg.APIURL+"/v1/integrations/configuration/"+url.PathEscape(id)), c.auth(t), nil, nil)
	switch httpjson.Code(resp) {
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return nil
	}
	return err
}

// Resources lists the account's projects (Kind "project"), 100 a page,
// following Vercel's pagination object: a page's pagination.next, when not
// null, is passed as until for the following one. EINVALID when Vercel
// refuses, EUNAVAILABLE when it fails.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	var out []*relay.Resource
	var until *int64
	// The bound stops a provider that keeps answering a next page.
	for range 1000 {
		u := c.cfg.APIURL + "/v9/projects?limit=100"
		if until != nil {
			u += "&until=" + strconv.FormatInt(*until, 10)
		}
		var page struct {
			Projects []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"projects"`
			Pagination struct {
				Count int    `json:"count"`
				Next  *int64 `json:"next"`
				Prev  *int64 `json:"prev"`
			} `json:"pagination"`
		}
		if _, err := c.flow.Call(ctx, "list projects", http.MethodGet, c.withTeam(conn, u), c.auth(t), nil, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Projects {
			out = append(out, &relay.Resource{Provider: "vercel", ExternalID: p.ID, Kind: "project", Name: p.Name})
		}
		next := page.Pagination.Next
		if next == nil || len(page.Projects) == 0 || (until != nil && *next == *until) {
			return out, nil
		}
		until = next
	}
	return nil, relay.Errorf(relay.EUNAVAILABLE, "vercel: list projects: too many pages")
}

// RegisterWebhook creates a webhook for the account's events
// (ConnectorConfig.WebhookEvents, all projects) with POST /v1/webhooks.
// Vercel generates its signing secret: it is returned with the id, and
// deliveries of this webhook are signed with it, not with the client
// secret. EINVALID when Vercel refuses, EUNAVAILABLE when it fails.
func (c *Connector) RegisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, u string) (string, string, error) {
	var out struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if _, err := c.flow.Call(ctx, "create webhook", http.MethodPost, c.withTeam(conn, c.cfg.APIURL+"/v1/webhooks"),
		c.auth(t), map[string]any{"url": u, "events": c.cfg.WebhookEvents}, &out); err != nil {
		return "", "", err
	}
	if out.ID == "" {
		return "", "", relay.Errorf(relay.EUNAVAILABLE, "vercel: create webhook: no id in the answer")
	}
	return out.ID, out.Secret, nil
}

// DeregisterWebhook deletes the webhook (DELETE /v1/webhooks/{id}); one
// already gone (404) is not an error. EINVALID when Vercel refuses,
// EUNAVAILABLE when it fails.
func (c *Connector) DeregisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, id string) error {
	resp, err := c.flow.Call(ctx, "delete webhook", http.MethodDelete,
		c.withTeam(conn, c.cfg.APIURL+"/v1/webhooks/"+url.PathEscape(id)), c.auth(t), nil, nil)
	if httpjson.Code(resp) == http.StatusNotFound {
		return nil
	}
	return err
}

func (c *Connector) auth(t *relay.Token) http.Header {
	return http.Header{"Authorization": {"Bearer " + t.AccessToken}}
}

// withTeam adds ?teamId= for team installs: Vercel refuses a team's token
// without it.
func (c *Connector) withTeam(conn *relay.Connection, u string) string {
	team := conn.Metadata["team_id"]
	if team == "" {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "teamId=" + url.QueryEscape(team)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
