package github

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/relayhq/relay"
)

// ConnectorConfig configures the GitHub App connect flow.
type ConnectorConfig struct {
	AppID      string          // the App's id (JWT issuer)
	AppSlug    string          // for the install URL
	PrivateKey *rsa.PrivateKey // signs the App's JWTs
	APIURL     string          // https://api.github.com, or GHES https://HOST/api/v3
	WebURL     string          // https://github.com
	HTTPClient *http.Client    // default: 30 s timeout
	Now        func() time.Time
}

// Connector is the GitHub App connect flow: install, installation tokens,
// repositories. It implements relay.Connector.
type Connector struct {
	cfg ConnectorConfig
}

var _ relay.Connector = (*Connector)(nil)

// NewConnector returns the connector; AppID, AppSlug and PrivateKey are required.
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if cfg.AppID == "" || cfg.AppSlug == "" || cfg.PrivateKey == nil {
		return nil, errors.New("github: connector needs app_id, app_slug and private_key")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.github.com"
	}
	if cfg.WebURL == "" {
		cfg.WebURL = "https://github.com"
	}
	cfg.APIURL, cfg.WebURL = strings.TrimRight(cfg.APIURL, "/"), strings.TrimRight(cfg.WebURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg}, nil
}

// Name returns "github".
func (c *Connector) Name() string { return "github" }

// PKCE is false: the App installation flow returns no code to exchange (the
// installation id comes back on the setup URL), so there is nothing for a
// verifier to protect; the single-use state still binds the redirect.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the App's install page. GitHub sends the browser back to
// the App's setup URL (configure it as Relay's callback) with
// installation_id, setup_action and state.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/apps/" + url.PathEscape(c.cfg.AppSlug) + "/installations/new?" + url.Values{"state": {state}}.Encode()
}

// Exchange completes an install: setup_action=request means an org admin
// must still approve, so the connection is pending without a token;
// otherwise an installation token is minted and the account and its
// repositories are read.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	id := q.Get("installation_id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		if q.Get("setup_action") == "request" {
			// Requested, not installed: there is no installation (and no
			// account) yet. Nothing to store; the flow reports pending.
			return &relay.Grant{Connection: &relay.Connection{Status: relay.ConnectionPending,
				StatusReason: "awaiting approval by an organization owner"}}, nil
		}
		return nil, relay.Errorf(relay.EINVALID, "github: the callback has no valid installation_id")
	}
	conn := &relay.Connection{ExternalID: id, Status: relay.ConnectionActive, Metadata: map[string]string{}}
	if q.Get("setup_action") == "request" {
		conn.Status = relay.ConnectionPending
		conn.StatusReason = "awaiting approval by an organization owner"
		return &relay.Grant{Connection: conn}, nil
	}
	var inst struct {
		Account struct {
			Login string `json:"login"`
			ID    int64  `json:"id"`
		} `json:"account"`
		TargetType string `json:"target_type"`
	}
	if err := c.appCall(ctx, http.MethodGet, "/app/installations/"+id, "get installation", &inst); err != nil {
		return nil, err
	}
	conn.AccountName = inst.Account.Login
	conn.Metadata["target_type"] = inst.TargetType
	conn.Metadata["account_id"] = strconv.FormatInt(inst.Account.ID, 10)
	tok, err := c.mint(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh mints a new installation token (they last an hour; there is no
// refresh token).
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	return c.mint(ctx, conn.ExternalID)
}

// Revoke revokes the installation token (DELETE /installation/token). A
// token already expired or revoked is not an error.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	resp, err := c.do(ctx, http.MethodDelete, c.cfg.APIURL+"/installation/token", "token "+t.AccessToken)
	if err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "github: revoke token: %s", transportError(err))
	}
	defer drain(resp)
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound:
		return nil
	default:
		return statusError("revoke token", resp)
	}
}

// Resources lists the installation's repositories, following pagination.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	var out []*relay.Resource
	next := c.cfg.APIURL + "/installation/repositories?per_page=100"
	for pages := 0; next != "" && pages < 1000; pages++ {
		resp, err := c.do(ctx, http.MethodGet, next, "token "+t.AccessToken)
		if err != nil {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "github: list repositories: %s", transportError(err))
		}
		if resp.StatusCode != http.StatusOK {
			defer drain(resp)
			return nil, statusError("list repositories", resp)
		}
		var page struct {
			Repositories []struct {
				ID       int64  `json:"id"`
				FullName string `json:"full_name"`
			} `json:"repositories"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&page)
		link := resp.Header.Get("Link")
		drain(resp)
		if err != nil {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "github: list repositories: malformed answer")
		}
		for _, r := range page.Repositories {
			out = append(out, &relay.Resource{Provider: "github", ExternalID: strconv.FormatInt(r.ID, 10),
				Kind: "repository", Name: r.FullName})
		}
		next = nextLink(link)
	}
	return out, nil
}

// mint creates an installation token with an App JWT.
func (c *Connector) mint(ctx context.Context, installationID string) (*relay.Token, error) {
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := c.appCall(ctx, http.MethodPost, "/app/installations/"+installationID+"/access_tokens", "create installation token", &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "github: create installation token: no token in the answer")
	}
	return &relay.Token{AccessToken: out.Token, TokenType: "token", ExpiresAt: out.ExpiresAt.UTC()}, nil
}

// AppJWT returns a JWT for the App: RS256, issued 60 s in the past (clock
// drift), expiring in 9 minutes (GitHub allows at most 10).
func (c *Connector) AppJWT() (string, error) {
	now := c.cfg.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    c.cfg.AppID,
		IssuedAt:  jwt.NewNumericDate(now.Add(-60 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(c.cfg.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("github: sign app jwt: %w", err)
	}
	return s, nil
}

// appCall makes an App-authenticated call and decodes its JSON answer.
func (c *Connector) appCall(ctx context.Context, method, path, what string, out any) error {
	token, err := c.AppJWT()
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, method, c.cfg.APIURL+path, "Bearer "+token)
	if err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "github: %s: %s", what, transportError(err))
	}
	defer drain(resp)
	if resp.StatusCode/100 != 2 {
		return statusError(what, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return relay.Errorf(relay.EUNAVAILABLE, "github: %s: malformed answer", what)
	}
	return nil
}

func (c *Connector) do(ctx context.Context, method, u, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "relay")
	return c.cfg.HTTPClient.Do(req)
}

// statusError maps a provider answer to an *Error: 5xx and 429 are the
// provider's trouble (EUNAVAILABLE), other 4xx a refusal (EINVALID). The
// message carries GitHub's own message, never a token.
func statusError(what string, resp *http.Response) error {
	var body struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := fmt.Sprintf("github: %s: HTTP %d", what, resp.StatusCode)
	if body.Message != "" {
		msg += ": " + truncate(body.Message, 200)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return relay.Errorf(relay.EUNAVAILABLE, "%s", msg)
	}
	return relay.Errorf(relay.EINVALID, "%s", msg)
}

// transportError describes a failed request without its URL (which could
// carry a query secret in other providers) or any header.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		return ue.Err.Error()
	}
	return err.Error()
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h string) string {
	if m := linkNext.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
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
