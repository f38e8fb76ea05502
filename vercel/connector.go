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

// ConnectorConfig configures the Vercel integration's install flow.
type ConnectorConfig struct {
	ClientID, ClientSecret string
	Slug                   string // the integration's slug, for the install URL
	APIURL                 string // https://api.vercel.com
	WebURL                 string // https://vercel.com
	WebhookEvents          []string
	HTTPClient             *http.Client
}

// Connector is the Vercel integration flow: install, code exchange,
// projects, and webhooks through the API. It implements relay.Connector and
// relay.WebhookRegistrar.
type Connector struct{ cfg ConnectorConfig }

var (
	_ relay.Connector        = (*Connector)(nil)
	_ relay.WebhookRegistrar = (*Connector)(nil)
)

// NewConnector returns the connector; ClientID, ClientSecret and Slug are required.
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
		cfg.WebhookEvents = []string{"deployment.created", "deployment.succeeded", "deployment.error", "project.created", "project.removed"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Connector{cfg: cfg}, nil
}

// Name returns "vercel".
func (c *Connector) Name() string { return "vercel" }

// PKCE is false: Vercel's integration install does not take a challenge.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the integration's install page.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/integrations/" + url.PathEscape(c.cfg.Slug) + "/new?" + url.Values{"state": {state}}.Encode()
}

// Exchange trades the code for the installation's long-lived token and
// lists its projects. The account is the team (team installs) or the user,
// as the webhook adapter reads it.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	code := q.Get("code")
	if code == "" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: the callback has no code")
	}
	var out struct {
		AccessToken    string `json:"access_token"`
		TokenType      string `json:"token_type"`
		InstallationID string `json:"installation_id"`
		UserID         string `json:"user_id"`
		TeamID         string `json:"team_id"`
	}
	if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "vercel", "exchange code", http.MethodPost, c.cfg.APIURL+"/v2/oauth/access_token",
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
	conn := &relay.Connection{ExternalID: acct, Status: relay.ConnectionActive, Metadata: map[string]string{
		"configuration_id": q.Get("configurationId"), "installation_id": out.InstallationID,
		"team_id": out.TeamID, "user_id": out.UserID}}
	tok := &relay.Token{AccessToken: out.AccessToken, TokenType: out.TokenType}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh returns the token as it is: Vercel integration tokens do not
// expire and have no refresh token.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	return t, nil
}

// Revoke removes the integration configuration (DELETE
// /v1/integrations/configuration/{id}), which ends the token; Vercel's
// token revocation is UNCONFIRMED, so this is best effort and a
// configuration already gone is not an error.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	id := conn.Metadata["configuration_id"]
	if id == "" {
		return nil
	}
	resp, err := httpjson.Do(ctx, c.cfg.HTTPClient, "vercel", "remove configuration", http.MethodDelete,
		c.withTeam(conn, c.cfg.APIURL+"/v1/integrations/configuration/"+url.PathEscape(id)), c.auth(t), nil, nil)
	if httpjson.Code(resp) == http.StatusNotFound {
		return nil
	}
	return err
}

// Resources lists the projects, following Vercel's pagination object.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	var out []*relay.Resource
	until := ""
	for pages := 0; pages < 1000; pages++ {
		u := c.cfg.APIURL + "/v9/projects?limit=100"
		if until != "" {
			u += "&until=" + url.QueryEscape(until)
		}
		var page struct {
			Projects []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"projects"`
			Pagination struct {
				Next *int64 `json:"next"`
			} `json:"pagination"`
		}
		if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "vercel", "list projects", http.MethodGet, c.withTeam(conn, u), c.auth(t), nil, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Projects {
			out = append(out, &relay.Resource{Provider: "vercel", ExternalID: p.ID, Kind: "project", Name: p.Name})
		}
		if page.Pagination.Next == nil {
			break
		}
		until = strconv.FormatInt(*page.Pagination.Next, 10)
	}
	return out, nil
}

// RegisterWebhook creates a webhook for the account's events; Vercel
// generates its signing secret and returns it.
func (c *Connector) RegisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, u string) (string, string, error) {
	var out struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if _, err := httpjson.Do(ctx, c.cfg.HTTPClient, "vercel", "create webhook", http.MethodPost, c.withTeam(conn, c.cfg.APIURL+"/v1/webhooks"),
		c.auth(t), map[string]any{"url": u, "events": c.cfg.WebhookEvents}, &out); err != nil {
		return "", "", err
	}
	return out.ID, out.Secret, nil
}

// DeregisterWebhook deletes the webhook; one already gone is not an error.
func (c *Connector) DeregisterWebhook(ctx context.Context, conn *relay.Connection, t *relay.Token, id string) error {
	resp, err := httpjson.Do(ctx, c.cfg.HTTPClient, "vercel", "delete webhook", http.MethodDelete,
		c.withTeam(conn, c.cfg.APIURL+"/v1/webhooks/"+url.PathEscape(id)), c.auth(t), nil, nil)
	if httpjson.Code(resp) == http.StatusNotFound {
		return nil
	}
	return err
}

func (c *Connector) auth(t *relay.Token) http.Header {
	return http.Header{"Authorization": {"Bearer " + t.AccessToken}}
}

// withTeam adds ?teamId= for team installs, as Vercel requires.
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
