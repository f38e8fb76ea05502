package simulator

import (
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

// Linear simulates Linear's OAuth (authorization codes bound to a PKCE
// challenge and single use, refresh-token rotation, revocation) and the
// GraphQL queries a connection needs (organization, teams with Relay-style
// cursors, webhookCreate/webhookDelete), with its rate-limit headers and
// GraphQL error shapes. Calls and FailNext name its endpoints token_code,
// token_refresh, revoke and graphql.
type Linear struct {
	calls
	ClientID, ClientSecret string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	orgs     map[string]*LinearOrg // by id
	codes    map[string]linearCode
	access   map[string]linearGrant // access token → grant
	refresh  map[string]string      // refresh token → org id
	webhooks map[string]LinearAPIWebhook
	ttl      time.Duration
	perPage  int
}

// LinearOrg is a workspace with its teams.
type LinearOrg struct {
	ID, Name, URLKey string
	Teams            []LinearTeam
}

// LinearTeam is a team of a workspace.
type LinearTeam struct{ ID, Name, Key string }

// LinearAPIWebhook is a webhook created through the API.
type LinearAPIWebhook struct {
	ID, OrgID, URL, Secret string
	ResourceTypes          []string
}

type linearCode struct {
	orgID, challenge, redirect string
}

type linearGrant struct {
	orgID   string
	expires time.Time
}

// NewLinear starts a Linear simulator for one OAuth app. now may be nil.
func NewLinear(now func() time.Time) *Linear {
	if now == nil {
		now = time.Now
	}
	l := &Linear{ClientID: "lin_client", ClientSecret: "lin_secret_" + randomHex(8), now: now,
		orgs: map[string]*LinearOrg{}, codes: map[string]linearCode{}, access: map[string]linearGrant{},
		refresh: map[string]string{}, webhooks: map[string]LinearAPIWebhook{}, ttl: 24 * time.Hour, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", l.authorizePage)
	mux.HandleFunc("POST /oauth/token", l.token)
	mux.HandleFunc("POST /oauth/revoke", l.revoke)
	mux.HandleFunc("POST /graphql", l.graphql)
	l.srv = httptest.NewServer(mux)
	return l
}

// URL serves both the web (authorize) and API paths.
func (l *Linear) URL() string { return l.srv.URL }

// Close stops the simulator.
func (l *Linear) Close() { l.srv.Close() }

// AddOrganization makes a workspace exist.
func (l *Linear) AddOrganization(o LinearOrg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orgs[o.ID] = &o
}

// SetTokenTTL sets the lifetime of new access tokens (expires_in).
func (l *Linear) SetTokenTTL(d time.Duration) {
	l.mu.Lock()
	l.ttl = d
	l.mu.Unlock()
}

// Webhooks returns the webhooks created through the API.
func (l *Linear) Webhooks() []LinearAPIWebhook {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LinearAPIWebhook
	for _, w := range l.webhooks {
		out = append(out, w)
	}
	return out
}

// ValidToken reports whether an access token is live.
func (l *Linear) ValidToken(token string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.access[token]
	return ok && l.now().Before(g.expires)
}

// Consent plays the user approving Relay's authorize URL for the workspace
// orgID: it checks the URL's client id and PKCE parameters, records the
// challenge with a new code, and returns the redirect URI with code and state.
func (l *Linear) Consent(authorizeURL, orgID string) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	switch {
	case q.Get("client_id") != l.ClientID:
		return "", fmt.Errorf("linear: unknown client_id")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		return "", fmt.Errorf("linear: missing S256 code challenge")
	case q.Get("response_type") != "code":
		return "", fmt.Errorf("linear: response_type must be code")
	}
	code := "lin_code_" + randomHex(12)
	l.mu.Lock()
	l.codes[code] = linearCode{orgID: orgID, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	l.mu.Unlock()
	return q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), nil
}

// Deny plays the user refusing consent.
func (l *Linear) Deny(authorizeURL string) string {
	u, _ := url.Parse(authorizeURL)
	q := u.Query()
	return q.Get("redirect_uri") + "?" + url.Values{"error": {"access_denied"}, "state": {q.Get("state")}}.Encode()
}

func (l *Linear) authorizePage(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, "<html><body>Authorize application</body></html>")
}

func (l *Linear) rateHeaders(w http.ResponseWriter) {
	w.Header().Set("X-RateLimit-Requests-Limit", "1500")
	w.Header().Set("X-RateLimit-Requests-Remaining", "1499")
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
	if r.PostForm.Get("client_id") != l.ClientID || r.PostForm.Get("client_secret") != l.ClientSecret {
		oauthErr(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var orgID string
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
		orgID = code.orgID
	case "refresh_token":
		id, ok := l.refresh[r.PostForm.Get("refresh_token")]
		delete(l.refresh, r.PostForm.Get("refresh_token")) // rotated: the old one dies
		if !ok {
			oauthErr(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid")
			return
		}
		orgID = id
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", grant)
		return
	}
	access, refresh := "lin_oauth_"+randomHex(16), "lin_refresh_"+randomHex(16)
	l.access[access] = linearGrant{orgID: orgID, expires: l.now().Add(l.ttl)}
	l.refresh[refresh] = orgID
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
		"expires_in": int(l.ttl.Seconds()), "scope": "read"})
}

func (l *Linear) revoke(w http.ResponseWriter, r *http.Request) {
	if status := l.take("revoke"); status != 0 {
		oauthErr(w, status, "server_error", "injected failure")
		return
	}
	_ = r.ParseForm()
	tok := r.PostForm.Get("token")
	l.mu.Lock()
	_, ok := l.access[tok]
	delete(l.access, tok)
	l.mu.Unlock()
	if !ok {
		oauthErr(w, http.StatusBadRequest, "invalid_token", "unknown token")
		return
	}
	w.WriteHeader(http.StatusOK)
}

func gqlError(w http.ResponseWriter, msg, code string) {
	writeJSON(w, http.StatusOK, map[string]any{"data": nil,
		"errors": []map[string]any{{"message": msg, "extensions": map[string]string{"code": code}}}})
}

func (l *Linear) graphql(w http.ResponseWriter, r *http.Request) {
	l.rateHeaders(w)
	if status := l.take("graphql"); status != 0 {
		writeJSON(w, status, map[string]any{"errors": []map[string]string{{"message": "injected failure"}}})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	l.mu.Lock()
	g, ok := l.access[tok]
	l.mu.Unlock()
	if !ok || !l.now().Before(g.expires) {
		gqlError(w, "Authentication required, not authenticated", "AUTHENTICATION_ERROR")
		return
	}
	var req struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		gqlError(w, "malformed request", "BAD_USER_INPUT")
		return
	}
	var vars struct {
		After *string        `json:"after"`
		ID    string         `json:"id"`
		Input map[string]any `json:"input"`
	}
	_ = json.Unmarshal(req.Variables, &vars)
	l.mu.Lock()
	defer l.mu.Unlock()
	org := l.orgs[g.orgID]
	if org == nil {
		gqlError(w, "organization not found", "INTERNAL_SERVER_ERROR")
		return
	}
	switch {
	case strings.Contains(req.Query, "webhookCreate"):
		id := "wh_" + randomHex(8)
		u, _ := vars.Input["url"].(string)
		secret, _ := vars.Input["secret"].(string)
		if u == "" {
			gqlError(w, "url is required", "BAD_USER_INPUT")
			return
		}
		var types []string
		if ts, ok := vars.Input["resourceTypes"].([]any); ok {
			for _, t := range ts {
				s, _ := t.(string)
				types = append(types, s)
			}
		}
		l.webhooks[id] = LinearAPIWebhook{ID: id, OrgID: org.ID, URL: u, Secret: secret, ResourceTypes: types}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"webhookCreate": map[string]any{
			"success": true, "webhook": map[string]any{"id": id, "enabled": true}}}})
	case strings.Contains(req.Query, "webhookDelete"):
		wh, ok := l.webhooks[vars.ID]
		if !ok || wh.OrgID != org.ID {
			gqlError(w, "Entity not found: Webhook", "INVALID_INPUT")
			return
		}
		delete(l.webhooks, vars.ID)
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"webhookDelete": map[string]any{"success": true}}})
	case strings.Contains(req.Query, "teams"):
		start := 0
		if vars.After != nil {
			start, _ = strconv.Atoi(strings.TrimPrefix(*vars.After, "cursor-"))
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
			"organization": map[string]string{"id": org.ID, "name": org.Name, "urlKey": org.URLKey},
			"viewer":       map[string]string{"id": "user-" + org.ID}}})
	default:
		gqlError(w, "unsupported query in the simulator", "BAD_USER_INPUT")
	}
}
