package github

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// ConnectorConfig configures the GitHub App connect flow.
type ConnectorConfig struct {
	// AppID is the App's numeric id, the issuer of its JWTs. When empty,
	// ClientID is the issuer (GitHub accepts either).
	AppID string
	// AppSlug names the App in its install URL (required).
	AppSlug string
	// ClientID and ClientSecret are the App's OAuth client (required unless
	// AllowUnverifiedInstallations): they exchange the installing user's
	// code, with which the installation is verified. ClientID ("Iv23li…")
	// is also the JWT issuer when AppID is empty.
	ClientID, ClientSecret string
	// AllowUnverifiedInstallations accepts the setup URL's installation_id
	// without checking that the installing user can access it. GitHub warns
	// that installation_id can be spoofed: with this on, any org that can
	// start a connect flow can claim any installation of the App. It exists
	// only for Apps that cannot turn on user authorization during
	// installation.
	AllowUnverifiedInstallations bool
	// PrivateKey signs the App's JWTs (required).
	PrivateKey *rsa.PrivateKey
	// APIURL is GitHub's REST API (default https://api.github.com; GitHub
	// Enterprise Server: https://HOST/api/v3) and WebURL its web site, where
	// the install page is (default https://github.com).
	APIURL, WebURL string
	// HTTPClient makes every call; default one with a 30 s timeout. Calls
	// also end with the caller's context.
	HTTPClient *http.Client
	// Now is the clock JWTs are issued by; default time.Now.
	Now func() time.Time
}

// Connector is the GitHub App connect flow: install, installation tokens,
// repositories, and the repositories' history for backfills. It implements
// relay.Connector and relay.BackfillLister and is safe for concurrent use.
type Connector struct {
	cfg   ConnectorConfig
	iss   string
	api   *httpjson.Client // installation-token API calls with retries (backfill)
	flow  *httpjson.Client // the connect flow's and lifecycle's calls
	oauth oauth2.Config    // the installing user's code exchange
}

var (
	_ relay.Connector      = (*Connector)(nil)
	_ relay.BackfillLister = (*Connector)(nil)
)

// NewConnector returns the connector for cfg. It returns an error when
// AppSlug, PrivateKey, or both AppID and ClientID are missing, or, unless
// AllowUnverifiedInstallations, ClientID or ClientSecret is.
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if (cfg.AppID == "" && cfg.ClientID == "") || cfg.AppSlug == "" || cfg.PrivateKey == nil {
		return nil, errors.New("github: connector needs app_id (or client_id), app_slug and private_key")
	}
	if !cfg.AllowUnverifiedInstallations && (cfg.ClientID == "" || cfg.ClientSecret == "") {
		return nil, errors.New("github: connector needs client_id and client_secret to verify installations")
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
	iss := cfg.AppID
	if iss == "" {
		iss = cfg.ClientID
	}
	api := &httpjson.Client{HTTP: cfg.HTTPClient, Provider: "github", Attempts: 3, DeferLimits: true,
		RateLimit: httpjson.EpochRateLimit("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", false),
		Classify:  message}
	flow := httpjson.NewFlowClient(cfg.HTTPClient, "github", api.RateLimit)
	flow.Classify = message
	return &Connector{cfg: cfg, iss: iss, api: api, flow: flow, oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: cfg.WebURL + "/login/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams}}}, nil
}

// Name returns "github".
func (c *Connector) Name() string { return "github" }

// PKCE is false: GitHub takes a code_challenge on its user authorization
// page (/login/oauth/authorize), but the App's install page
// (/apps/{slug}/installations/new), which issues the installing user's
// code, documents only state. The code it issues has no challenge, so its
// exchange sends no code_verifier; the client secret and the single-use
// state bind it to Relay and to the org that started the flow.
func (c *Connector) PKCE() bool { return false }

// AuthorizeURL is the App's install page. GitHub sends the browser back to
// Relay's callback with installation_id, setup_action, state and, with the
// App setting "Request user authorization (OAuth) during installation",
// the installing user's code. With that setting GitHub redirects to the
// App's (first) callback URL rather than its setup URL: configure Relay's
// callback there. redirectURI and codeChallenge are not part of the URL.
func (c *Connector) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	return c.cfg.WebURL + "/apps/" + url.PathEscape(c.cfg.AppSlug) + "/installations/new?" + url.Values{"state": {state}}.Encode()
}

// Exchange completes an install from the redirect's installation_id,
// setup_action and code.
//
// setup_action=request means an organization owner must still approve the
// App: the connection is pending, without a token. GitHub creates no
// installation for a request, so there is nothing to verify and any
// installation_id on the redirect is ignored: the grant has an empty
// ExternalID, which the connect flow reports as pending without storing
// anything.
//
// Otherwise (install, update) the installation is verified first, because
// GitHub warns that installation_id can be spoofed: the code is exchanged
// for the installing user's access token, and the installation must be
// among those GET /user/installations lists for that user. The user token
// is used for that check only; it is revoked (best effort) and dropped.
// Then it reads the installation with an App JWT (account.login →
// AccountName; Metadata target_type and account_id), mints an installation
// token and lists the repositories. The connection's ExternalID is the
// installation id in decimal, which is the AccountID the webhook adapter
// reads (payload installation.id).
//
// It returns EFORBIDDEN when the installation cannot be verified (no code,
// or not one the installing user can access); EINVALID when installation_id
// is missing or malformed or GitHub refuses (the code, an unknown
// installation, a bad JWT); EUNAVAILABLE when GitHub fails or times out.
// With AllowUnverifiedInstallations the installation_id is taken as it is,
// a request's included.
func (c *Connector) Exchange(ctx context.Context, q url.Values, redirectURI, codeVerifier string) (*relay.Grant, error) {
	instID, action := q.Get("installation_id"), q.Get("setup_action")
	if (instID != "" || action != "request") && !validID(instID) {
		return nil, relay.Errorf(relay.EINVALID, "github: the callback has no valid installation_id")
	}
	if action == "request" {
		conn := &relay.Connection{Provider: "github", Status: relay.ConnectionPending,
			StatusReason: "awaiting approval by an organization owner"}
		if c.cfg.AllowUnverifiedInstallations {
			conn.ExternalID = instID
		}
		return &relay.Grant{Connection: conn}, nil
	}
	if !c.cfg.AllowUnverifiedInstallations {
		if err := c.verifyInstallation(ctx, q.Get("code"), redirectURI, instID); err != nil {
			return nil, err
		}
	}
	conn := &relay.Connection{Provider: "github", ExternalID: instID, Status: relay.ConnectionActive, Metadata: map[string]string{}}
	var inst struct {
		Account struct {
			Login string `json:"login"`
			ID    id     `json:"id"`
		} `json:"account"`
		TargetType string `json:"target_type"`
	}
	if err := c.appCall(ctx, http.MethodGet, "/app/installations/"+instID, "get installation", &inst); err != nil {
		return nil, err
	}
	conn.AccountName = inst.Account.Login
	for k, v := range map[string]string{"target_type": inst.TargetType, "account_id": string(inst.Account.ID)} {
		if v != "" {
			conn.Metadata[k] = v
		}
	}
	tok, err := c.mint(ctx, instID)
	if err != nil {
		return nil, err
	}
	res, err := c.Resources(ctx, conn, tok)
	if err != nil {
		return nil, err
	}
	return &relay.Grant{Connection: conn, Token: tok, Resources: res}, nil
}

// Refresh mints a new installation token for the connection's installation
// (tokens last an hour and have no refresh token; t is not used). Errors as
// Exchange's.
func (c *Connector) Refresh(ctx context.Context, conn *relay.Connection, t *relay.Token) (*relay.Token, error) {
	if !validID(conn.ExternalID) {
		return nil, relay.Errorf(relay.EINVALID, "github: create installation token: the connection has no installation id")
	}
	return c.mint(ctx, conn.ExternalID)
}

// Revoke revokes the installation token with DELETE /installation/token,
// authenticated by the token itself (GitHub answers 204). A token already
// expired or revoked (401) or an installation gone (404) is not an error;
// neither is a missing token. Uninstalling the App is the account owner's
// act on GitHub: the App cannot do it with an installation token.
func (c *Connector) Revoke(ctx context.Context, conn *relay.Connection, t *relay.Token) error {
	if t == nil || t.AccessToken == "" {
		return nil
	}
	resp, err := c.call(ctx, "revoke token", http.MethodDelete, c.cfg.APIURL+"/installation/token", "token "+t.AccessToken, nil)
	switch httpjson.Code(resp) {
	case http.StatusUnauthorized, http.StatusNotFound:
		return nil
	}
	return err
}

// Resources lists the installation's repositories (Kind "repository",
// ExternalID the repository id, Name its full_name), following Link
// rel="next" 100 at a time. It returns EINVALID when GitHub refuses the
// token, EUNAVAILABLE when it fails.
func (c *Connector) Resources(ctx context.Context, conn *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	if t == nil || t.AccessToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "github: list repositories: no installation token")
	}
	out := []*relay.Resource{}
	next := c.cfg.APIURL + "/installation/repositories?per_page=100"
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "github: list repositories: more than %d pages", maxPages)
		}
		var page struct {
			Repositories []repo `json:"repositories"`
		}
		resp, err := c.call(ctx, "list repositories", http.MethodGet, next, "token "+t.AccessToken, &page)
		if err != nil {
			return nil, err
		}
		link := resp.Header.Get("Link")
		for _, r := range page.Repositories {
			if r.ID != "" {
				out = append(out, r.resource())
			}
		}
		if next, err = c.sameOrigin(nextLink(link)); err != nil {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "github: list repositories: %s", err)
		}
	}
	return out, nil
}

// maxPages bounds a listing, in case a server's Link never ends.
const maxPages = 1000

// sameOrigin returns u when it is on the API's scheme and host ("" stays
// ""): the installation token is only ever sent to the API.
func (c *Connector) sameOrigin(u string) (string, error) {
	if u == "" {
		return "", nil
	}
	next, err1 := url.Parse(u)
	api, err2 := url.Parse(c.cfg.APIURL)
	if err1 != nil || err2 != nil || next.Scheme != api.Scheme || next.Host != api.Host {
		return "", errors.New("the next page is on another host")
	}
	return u, nil
}

// mint creates an installation token with an App JWT.
func (c *Connector) mint(ctx context.Context, installationID string) (*relay.Token, error) {
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := c.appCall(ctx, http.MethodPost, "/app/installations/"+installationID+"/access_tokens", "create installation token", &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "github: create installation token: no token in the answer")
	}
	tok := &relay.Token{AccessToken: out.Token, TokenType: "token"}
	if exp, err := time.Parse(time.RFC3339, out.ExpiresAt); err == nil {
		tok.ExpiresAt = exp.UTC()
	} else {
		// GitHub documents an hour; a missing or odd expires_at must not
		// leave a token Relay believes never expires.
		tok.ExpiresAt = c.cfg.Now().Add(time.Hour).UTC()
	}
	return tok, nil
}

// AppJWT returns a JWT authenticating as the App: RS256 with the private
// key, iss the AppID (else the ClientID), issued 60 s in the past (GitHub's
// advice against clock drift) and expiring 9 minutes from now (GitHub
// refuses more than 10). The error, if any, is from signing.
func (c *Connector) AppJWT() (string, error) {
	now := c.cfg.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    c.iss,
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
		return relay.Errorf(relay.EINTERNAL, "github: %s: the App JWT could not be signed", what)
	}
	_, err = c.call(ctx, what, method, c.cfg.APIURL+path, "Bearer "+token, out)
	return err
}

// call makes one GitHub API call with auth as its Authorization and the
// headers GitHub asks for, decoding a 2xx answer into out (nil to ignore
// it). Errors are httpjson's for the connect flow: EINVALID when GitHub
// refuses (a 401 included), EUNAVAILABLE when it fails, times out or
// rate-limits (a 403 with the limit used up or a Retry-After included),
// each with GitHub's own short message (see message) and never a token.
func (c *Connector) call(ctx context.Context, what, method, u, auth string, out any) (*httpjson.Response, error) {
	return c.flow.Call(ctx, what, method, u, http.Header{
		"Authorization":        {auth},
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
		"User-Agent":           {"relay"},
	}, nil, out)
}

// message is the httpjson Classify hook for GitHub: the status is GitHub's
// own, and an error answer's "message" (at most 200 bytes) is the detail.
func message(status int, body []byte) (int, string) {
	if status/100 == 2 {
		return status, ""
	}
	var b struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &b)
	return status, truncate(strings.TrimSpace(b.Message), 200)
}

var linkNext = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="next"`)

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h string) string {
	if m := linkNext.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

// validID reports whether s is a GitHub numeric id (a positive decimal).
func validID(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n > 0 && strconv.FormatInt(n, 10) == s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
