package simulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Linear simulates Linear's OAuth (authorization codes bound to a PKCE S256
// challenge and single use, refresh-token rotation, revocation) and the
// GraphQL operations a connection needs (viewer and organization, teams with
// Relay-style cursors two per page, webhookCreate and webhookDelete), with
// Linear's X-RateLimit-Requests-* headers and GraphQL error shapes (HTTP 200
// with "errors"). Calls and FailNext name its endpoints token_code,
// token_refresh, revoke and graphql.
type Linear struct {
	calls
	apiLimits
	ClientID, ClientSecret string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	orgs     map[string]*LinearOrg // by id
	first    string                // the first organization added: AuthorizeRedirect's workspace
	codes    map[string]linearCode
	access   map[string]linearGrant   // access token → grant
	refresh  map[string]linearRefresh // refresh token → grant
	webhooks map[string]LinearAPIWebhook
	deleted  int // webhooks deleted, for creation order
	ttl      time.Duration
	perPage  int
	served   int                           // GraphQL requests, for X-RateLimit-Requests-Remaining
	auths    int                           // authorizations granted, to tell them apart
	history  map[string]*linearTeamHistory // by team id, from SeedHistory
}

// LinearOrg is a workspace with its teams.
type LinearOrg struct {
	ID, Name, URLKey string
	Teams            []LinearTeam
}

// LinearTeam is a team of a workspace.
type LinearTeam struct{ ID, Name, Key string }

// LinearAPIWebhook is a webhook created through webhookCreate, as the
// simulator recorded it.
type LinearAPIWebhook struct {
	ID, OrgID, URL, Secret, Label string
	ResourceTypes                 []string
	AllPublicTeams, Enabled       bool
	// AuthorizedBy is the bearer token of the webhookCreate request: an
	// OAuth access token of the workspace (the client secret is refused).
	AuthorizedBy string

	seq int // creation order
}

type linearCode struct {
	orgID, challenge, redirect string
}

// linearGrant is an issued token; auth names the authorization (one
// consent) it belongs to, which revocation ends as a whole.
type linearGrant struct {
	orgID, auth string
	expires     time.Time // zero: does not expire
}

type linearRefresh struct{ orgID, auth string }

// linearRateLimit is the simulated X-RateLimit-Requests-Limit per hour.
const linearRateLimit = 1500

// NewLinear starts a Linear simulator for one OAuth app, on now's clock
// (time.Now when nil). Access tokens last 24 h until SetTokenTTL.
func NewLinear(now func() time.Time) *Linear {
	if now == nil {
		now = time.Now
	}
	l := &Linear{ClientID: "lin_client_" + randomHex(4), ClientSecret: "lin_secret_" + randomHex(8), now: now,
		orgs: map[string]*LinearOrg{}, codes: map[string]linearCode{}, access: map[string]linearGrant{},
		refresh: map[string]linearRefresh{}, webhooks: map[string]LinearAPIWebhook{}, ttl: 24 * time.Hour, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html><body>Authorize application</body></html>")
	})
	mux.HandleFunc("POST /oauth/token", l.token)
	mux.HandleFunc("POST /oauth/revoke", l.revoke)
	mux.HandleFunc("POST /graphql", l.graphql)
	l.srv = httptest.NewServer(mux)
	return l
}

// URL is the simulator's base URL, for both the web (authorize) and the API
// paths.
func (l *Linear) URL() string { return l.srv.URL }

// Close stops the simulator.
func (l *Linear) Close() { l.srv.Close() }

// AddOrganization makes a workspace exist (replacing one with the same id).
// The first one added is the workspace AuthorizeRedirect consents for.
func (l *Linear) AddOrganization(o LinearOrg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == "" {
		l.first = o.ID
	}
	o.Teams = append([]LinearTeam(nil), o.Teams...)
	l.orgs[o.ID] = &o
}

// SetTokenTTL sets the lifetime of access tokens issued from now on (their
// expires_in). A zero or negative d issues tokens without expires_in that
// do not expire.
func (l *Linear) SetTokenTTL(d time.Duration) {
	l.mu.Lock()
	l.ttl = d
	l.mu.Unlock()
}

// Webhooks returns the webhooks created through the API, in no order.
func (l *Linear) Webhooks() []LinearAPIWebhook {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LinearAPIWebhook
	for _, w := range l.webhooks {
		out = append(out, w)
	}
	return out
}

// ValidToken reports whether an access token is live (issued, not revoked,
// not expired).
func (l *Linear) ValidToken(token string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.live(token)
	return ok
}

// ValidRefreshToken reports whether a refresh token can still be used
// (not rotated away, not revoked).
func (l *Linear) ValidRefreshToken(token string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.refresh[token]
	return ok
}

func (l *Linear) live(token string) (linearGrant, bool) {
	g, ok := l.access[token]
	return g, ok && (g.expires.IsZero() || l.now().Before(g.expires))
}

// AuthorizeRedirect plays the user approving Relay's authorize URL for the
// first workspace added; see Consent.
func (l *Linear) AuthorizeRedirect(authorizeURL string) (string, error) {
	l.mu.Lock()
	org := l.first
	l.mu.Unlock()
	if org == "" {
		return "", fmt.Errorf("linear simulator: no organization added")
	}
	return l.Consent(authorizeURL, org)
}

// Consent plays the user approving Relay's authorize URL for the workspace
// orgID: it checks the URL's client id, response type, scope, actor and
// PKCE parameters, records the code challenge with a new single-use code,
// and returns the redirect URI with code and state (the URL Linear sends
// the browser to).
func (l *Linear) Consent(authorizeURL, orgID string) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	switch {
	case u.Path != "/oauth/authorize":
		return "", fmt.Errorf("linear simulator: authorize path is %q", u.Path)
	case q.Get("client_id") != l.ClientID:
		return "", fmt.Errorf("linear simulator: unknown client_id")
	case q.Get("response_type") != "code":
		return "", fmt.Errorf("linear simulator: response_type must be code")
	case q.Get("redirect_uri") == "":
		return "", fmt.Errorf("linear simulator: missing redirect_uri")
	case q.Get("scope") == "" || strings.Contains(q.Get("scope"), " "):
		return "", fmt.Errorf("linear simulator: scope must be a comma-separated list")
	case q.Get("actor") != "" && q.Get("actor") != "user" && q.Get("actor") != "app":
		return "", fmt.Errorf("linear simulator: actor must be user or app")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		return "", fmt.Errorf("linear simulator: missing S256 code challenge")
	}
	l.mu.Lock()
	_, known := l.orgs[orgID]
	code := "lin_code_" + randomHex(12)
	if known {
		l.codes[code] = linearCode{orgID: orgID, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	}
	l.mu.Unlock()
	if !known {
		return "", fmt.Errorf("linear simulator: unknown organization %q", orgID)
	}
	return withQuery(q.Get("redirect_uri"), url.Values{"code": {code}, "state": {q.Get("state")}}), nil
}

// Deny plays the user refusing consent: the redirect URI with
// error=access_denied and state.
func (l *Linear) Deny(authorizeURL string) string {
	u, _ := url.Parse(authorizeURL)
	q := u.Query()
	return withQuery(q.Get("redirect_uri"), url.Values{"error": {"access_denied"}, "state": {q.Get("state")}})
}

// withQuery appends v to u's query.
func withQuery(u string, v url.Values) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + v.Encode()
}

func (l *Linear) rateHeaders(w http.ResponseWriter) {
	l.mu.Lock()
	l.served++
	remaining := max(linearRateLimit-l.served, 0)
	l.mu.Unlock()
	w.Header().Set("X-RateLimit-Requests-Limit", strconv.Itoa(linearRateLimit))
	w.Header().Set("X-RateLimit-Requests-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Requests-Reset", strconv.FormatInt(l.now().Add(time.Hour).Unix(), 10))
}

func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (l *Linear) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	grant := r.PostForm.Get("grant_type")
	endpoint := "token_code"
	if grant == "refresh_token" {
		endpoint = "token_refresh"
	}
	if status := l.take(endpoint); status != 0 {
		oauthErr(w, status, "server_error", "injected failure")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if id != l.ClientID || secret != l.ClientSecret {
		oauthErr(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var orgID, auth string
	switch grant {
	case "authorization_code":
		code, ok := l.codes[r.PostForm.Get("code")]
		delete(l.codes, r.PostForm.Get("code")) // single use, even when the verifier is wrong
		if !ok {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "authorization code is invalid or used")
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the challenge")
			return
		}
		if r.PostForm.Get("redirect_uri") != code.redirect {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
			return
		}
		l.auths++
		orgID, auth = code.orgID, "auth-"+strconv.Itoa(l.auths)
	case "refresh_token":
		old, ok := l.refresh[r.PostForm.Get("refresh_token")]
		delete(l.refresh, r.PostForm.Get("refresh_token")) // rotated: the old one dies
		if !ok {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid")
			return
		}
		orgID, auth = old.orgID, old.auth
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type")
		return
	}
	access, refresh := "lin_oauth_"+randomHex(16), "lin_refresh_"+randomHex(16)
	g := linearGrant{orgID: orgID, auth: auth}
	out := map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "scope": "read"}
	if l.ttl > 0 {
		g.expires = l.now().Add(l.ttl)
		out["expires_in"] = int(l.ttl.Seconds())
	}
	l.access[access] = g
	l.refresh[refresh] = linearRefresh{orgID: orgID, auth: auth}
	writeJSON(w, http.StatusOK, out)
}

// revoke ends the authorization the token (access or refresh) belongs to:
// all its tokens die. An unknown token is 400 invalid_token. Linear's
// revocation endpoint is UNCONFIRMED (docs/providers.md); this is its likely
// RFC 7009 shape.
func (l *Linear) revoke(w http.ResponseWriter, r *http.Request) {
	l.rateHeaders(w)
	if status := l.take("revoke"); status != 0 {
		oauthErr(w, status, "server_error", "injected failure")
		return
	}
	_ = r.ParseForm()
	tok := r.PostForm.Get("token")
	l.mu.Lock()
	auth := ""
	if g, ok := l.access[tok]; ok {
		auth = g.auth
	} else if g, ok := l.refresh[tok]; ok {
		auth = g.auth
	}
	if auth != "" {
		for t, g := range l.access {
			if g.auth == auth {
				delete(l.access, t)
			}
		}
		for t, g := range l.refresh {
			if g.auth == auth {
				delete(l.refresh, t)
			}
		}
	}
	l.mu.Unlock()
	if auth == "" {
		oauthErr(w, http.StatusBadRequest, "invalid_token", "unknown token")
		return
	}
	w.WriteHeader(http.StatusOK)
}

func gqlError(w http.ResponseWriter, status int, msg, code string) {
	writeJSON(w, status, map[string]any{"data": nil,
		"errors": []map[string]any{{"message": msg, "extensions": map[string]string{"code": code}}}})
}

// injectedCode is the GraphQL error code an injected failure carries.
// Linear documents RATELIMITED; the HTTP status it comes with is
// UNCONFIRMED, so the simulator uses 429 for it.
func injectedCode(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "RATELIMITED"
	case status == http.StatusUnauthorized:
		return "AUTHENTICATION_ERROR"
	case status == http.StatusForbidden:
		return "FORBIDDEN"
	case status >= 500:
		return "INTERNAL_SERVER_ERROR"
	}
	return "BAD_USER_INPUT"
}

func (l *Linear) graphql(w http.ResponseWriter, r *http.Request) {
	l.rateHeaders(w)
	var req struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	decodeErr := json.NewDecoder(r.Body).Decode(&req)
	endpoint := cmp.Or(historyOp(req.Query), "graphql")
	if status := l.take(endpoint); status != 0 {
		gqlError(w, status, "injected failure", injectedCode(status))
		return
	}
	if !l.admit(w, r, endpoint, linearRateHeaders) {
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.live(tok)
	if !ok {
		gqlError(w, http.StatusOK, "Authentication required, not authenticated", "AUTHENTICATION_ERROR")
		return
	}
	if decodeErr != nil {
		gqlError(w, http.StatusBadRequest, "malformed request", "BAD_USER_INPUT")
		return
	}
	var vars struct {
		Cursor *string `json:"cursor"`
		ID     string  `json:"id"`
		Input  struct {
			URL            string   `json:"url"`
			ResourceTypes  []string `json:"resourceTypes"`
			AllPublicTeams bool     `json:"allPublicTeams"`
			TeamID         string   `json:"teamId"`
			Label          string   `json:"label"`
			Secret         string   `json:"secret"`
			Enabled        *bool    `json:"enabled"`
		} `json:"input"`
	}
	if len(req.Variables) > 0 && json.Unmarshal(req.Variables, &vars) != nil {
		gqlError(w, http.StatusOK, "Variable types do not match", "BAD_USER_INPUT")
		return
	}
	org := l.orgs[g.orgID]
	if org == nil {
		gqlError(w, http.StatusOK, "organization not found", "INTERNAL_SERVER_ERROR")
		return
	}
	// The operations are told apart by their root field, which is all the
	// connector's fixed queries need.
	switch {
	case endpoint != "graphql":
		l.listHistory(w, endpoint, req.Query, req.Variables, org.ID)
	case strings.Contains(req.Query, "webhookCreate"):
		in := vars.Input
		if in.URL == "" || len(in.ResourceTypes) == 0 || (!in.AllPublicTeams && in.TeamID == "") {
			gqlError(w, http.StatusOK, "Argument Validation Error: url, resourceTypes and teamId or allPublicTeams are required", "INVALID_INPUT")
			return
		}
		hook := LinearAPIWebhook{ID: "wh-" + randomHex(8), OrgID: org.ID, URL: in.URL, Secret: in.Secret, Label: in.Label,
			ResourceTypes: in.ResourceTypes, AllPublicTeams: in.AllPublicTeams, Enabled: in.Enabled == nil || *in.Enabled,
			AuthorizedBy: tok, seq: len(l.webhooks) + l.deleted + 1}
		if hook.Secret == "" {
			hook.Secret = "lin_wh_" + randomHex(16)
		}
		l.webhooks[hook.ID] = hook
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"webhookCreate": map[string]any{
			"success": true, "webhook": map[string]any{"id": hook.ID, "enabled": hook.Enabled, "secret": hook.Secret}}}})
	case strings.Contains(req.Query, "webhookDelete"):
		hook, ok := l.webhooks[vars.ID]
		if !ok || hook.OrgID != org.ID {
			gqlError(w, http.StatusOK, "Entity not found: Webhook", "INVALID_INPUT")
			return
		}
		delete(l.webhooks, vars.ID)
		l.deleted++
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"webhookDelete": map[string]any{"success": true}}})
	case strings.Contains(req.Query, "teams"):
		start := 0
		if vars.Cursor != nil {
			n, err := strconv.Atoi(strings.TrimPrefix(*vars.Cursor, "cursor-"))
			if err != nil || n < 0 {
				gqlError(w, http.StatusOK, "Invalid cursor", "INVALID_INPUT")
				return
			}
			start = n
		}
		start = min(start, len(org.Teams))
		end := min(start+l.perPage, len(org.Teams))
		nodes := []map[string]string{}
		for _, t := range org.Teams[start:end] {
			nodes = append(nodes, map[string]string{"id": t.ID, "name": t.Name, "key": t.Key})
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"teams": map[string]any{
			"nodes": nodes, "pageInfo": map[string]any{"hasNextPage": end < len(org.Teams), "endCursor": "cursor-" + strconv.Itoa(end)}}}})
	case strings.Contains(req.Query, "organization"):
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"viewer":       map[string]string{"id": "user-" + g.auth},
			"organization": map[string]string{"id": org.ID, "name": org.Name, "urlKey": org.URLKey}}})
	default:
		gqlError(w, http.StatusOK, "Cannot query this field in the simulator", "GRAPHQL_VALIDATION_FAILED")
	}
}

// --- Lifecycle: the workspace revoking the app. ---

// RevokeApp plays a workspace admin revoking Relay's app in Linear's
// settings: every token of the workspace stops working, so that the API
// answers them AUTHENTICATION_ERROR.
func (l *Linear) RevokeApp(orgID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for t, g := range l.access {
		if g.orgID == orgID {
			delete(l.access, t)
		}
	}
	for t, g := range l.refresh {
		if g.orgID == orgID {
			delete(l.refresh, t)
		}
	}
}
