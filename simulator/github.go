package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub simulates the parts of GitHub a GitHub App's connect flow uses,
// following PROVIDERS.md: the install page, App JWT authentication (RS256
// with the App's key; iat not in the future, exp required and at most 10
// minutes ahead, iss the App id or client id), installation tokens valid one
// hour with expires_at, the installation's repositories paginated (two per
// page) with Link rel="next", and token revocation. It serves both the web
// and the API paths on one URL and answers with GitHub's
// {"message", "documentation_url"} errors and x-ratelimit-* headers.
//
// Calls and FailNext name its endpoints get_installation, create_token,
// list_repositories and revoke_token.
type GitHub struct {
	calls
	// AppID and ClientID are the App's ids; either is accepted as a JWT's iss.
	AppID, ClientID string
	// AppSlug names the App in its install URL.
	AppSlug string
	// Key is the App's private key (give it to the connector); PrivateKey
	// returns it too.
	Key *rsa.PrivateKey

	srv *httptest.Server
	now func() time.Time

	mu            sync.Mutex
	installations map[string]*GitHubInstallation
	tokens        map[string]githubToken // installation token → what it grants
	tokenTTL      time.Duration
	perPage       int
	setup         *githubSetup // where the install page sends the browser, if set
}

// GitHubInstallation is one installation of the App.
type GitHubInstallation struct {
	ID         int64
	Login      string
	TargetType string // Organization (default) | User
	Repos      []GitHubRepo
	// Suspended installations get no tokens (403), as on GitHub.
	Suspended bool
}

// GitHubRepo is a repository an installation can access.
type GitHubRepo struct {
	ID       int64
	FullName string
}

type githubToken struct {
	installation string
	expires      time.Time
}

type githubSetup struct {
	url          string
	installation int64
	action       string
}

var (
	simKeyOnce sync.Once
	simKey     *rsa.PrivateKey
)

// simulatorKey returns a 2048-bit RSA key generated once per process: key
// generation takes a noticeable fraction of a second, and every simulator
// of a test binary can share one.
func simulatorKey() *rsa.PrivateKey {
	simKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		simKey = k
	})
	return simKey
}

// NewGitHub starts a GitHub simulator for an App with id 1001, client id
// "Iv23liRelayTest0001" and slug "relay-test", on now's clock (time.Now
// when nil). Close stops it.
func NewGitHub(now func() time.Time) *GitHub {
	if now == nil {
		now = time.Now
	}
	g := &GitHub{AppID: "1001", ClientID: "Iv23liRelayTest0001", AppSlug: "relay-test", Key: simulatorKey(), now: now,
		installations: map[string]*GitHubInstallation{}, tokens: map[string]githubToken{}, tokenTTL: time.Hour, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{slug}/installations/new", g.installPage)
	mux.HandleFunc("GET /app/installations/{id}", g.app("get_installation", g.getInstallation))
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", g.app("create_token", g.createToken))
	mux.HandleFunc("GET /installation/repositories", g.installation("list_repositories", g.listRepositories))
	mux.HandleFunc("DELETE /installation/token", g.installation("revoke_token", g.revokeToken))
	g.srv = httptest.NewServer(mux)
	return g
}

// URL is the simulator's base URL (use it as both api_url and web_url).
func (g *GitHub) URL() string { return g.srv.URL }

// Close stops the simulator.
func (g *GitHub) Close() { g.srv.Close() }

// PrivateKey returns the App's private key (the same as Key).
func (g *GitHub) PrivateKey() *rsa.PrivateKey { return g.Key }

// AddInstallation makes an installation of the App exist, replacing one
// with the same id.
func (g *GitHub) AddInstallation(in GitHubInstallation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in.TargetType == "" {
		in.TargetType = "Organization"
	}
	in.Repos = append([]GitHubRepo(nil), in.Repos...)
	g.installations[strconv.FormatInt(in.ID, 10)] = &in
}

// RemoveInstallation uninstalls the App from an account: its tokens stop
// working and its id becomes unknown (404).
func (g *GitHub) RemoveInstallation(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := strconv.FormatInt(id, 10)
	delete(g.installations, key)
	for tok, t := range g.tokens {
		if t.installation == key {
			delete(g.tokens, tok)
		}
	}
}

// SuspendInstallation suspends (or unsuspends) an installation: a
// suspended one is refused new tokens and its tokens stop working.
func (g *GitHub) SuspendInstallation(id int64, suspended bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in := g.installations[strconv.FormatInt(id, 10)]; in != nil {
		in.Suspended = suspended
	}
}

// SetTokenTTL changes how long new installation tokens last (default 1 h).
func (g *GitHub) SetTokenTTL(d time.Duration) {
	g.mu.Lock()
	g.tokenTTL = d
	g.mu.Unlock()
}

// ValidToken reports whether an installation token is live (not expired,
// not revoked, its installation not suspended or removed).
func (g *GitHub) ValidToken(token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.liveToken(token)
	return ok
}

// liveToken returns what a live token grants; g.mu is held.
func (g *GitHub) liveToken(token string) (githubToken, bool) {
	t, ok := g.tokens[token]
	if !ok || !g.now().Before(t.expires) {
		return t, false
	}
	in := g.installations[t.installation]
	return t, in != nil && !in.Suspended
}

// InstallRedirect is where GitHub sends the browser after the install page:
// the App's setup URL with installation_id (left out when installationID is
// 0), setup_action (install, update or request) and state.
func (g *GitHub) InstallRedirect(setupURL, state string, installationID int64, setupAction string) string {
	q := url.Values{"setup_action": {setupAction}, "state": {state}}
	if installationID != 0 {
		q.Set("installation_id", strconv.FormatInt(installationID, 10))
	}
	sep := "?"
	if strings.Contains(setupURL, "?") {
		sep = "&"
	}
	return setupURL + sep + q.Encode()
}

// SetSetupURL makes the install page act as if the user installed the App
// on installationID: it redirects (302) to InstallRedirect(setupURL, the
// request's state, installationID, setupAction). Without it the install
// page is a plain page (200), and tests build the redirect themselves.
func (g *GitHub) SetSetupURL(setupURL string, installationID int64, setupAction string) {
	g.mu.Lock()
	g.setup = &githubSetup{url: setupURL, installation: installationID, action: setupAction}
	g.mu.Unlock()
}

func (g *GitHub) installPage(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("slug") != g.AppSlug {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	g.mu.Lock()
	setup := g.setup
	g.mu.Unlock()
	if setup != nil {
		http.Redirect(w, r, g.InstallRedirect(setup.url, r.URL.Query().Get("state"), setup.installation, setup.action), http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><body>Install %s</body></html>", g.AppSlug)
}

// rateHeaders sets GitHub's rate-limit headers (a fixed, generous budget).
func (g *GitHub) rateHeaders(w http.ResponseWriter, resource string) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit", "5000")
	h.Set("X-Ratelimit-Remaining", "4999")
	h.Set("X-Ratelimit-Used", "1")
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(g.now().Add(time.Hour).Unix(), 10))
	h.Set("X-Ratelimit-Resource", resource)
}

// app wraps an endpoint that needs an App JWT.
func (g *GitHub) app(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.rateHeaders(w, "core")
		if status := g.take(endpoint); status != 0 {
			githubError(w, status, "Injected failure")
			return
		}
		if msg := g.checkJWT(r); msg != "" {
			githubError(w, http.StatusUnauthorized, msg)
			return
		}
		h(w, r)
	}
}

// checkJWT returns why the request's App JWT is refused, or "".
func (g *GitHub) checkJWT(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "A JSON web token could not be decoded"
	}
	now := g.now()
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &g.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	switch {
	case err != nil:
		return "A JSON web token could not be decoded"
	case claims.IssuedAt == nil:
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	case claims.Issuer != g.AppID && claims.Issuer != g.ClientID:
		return "'Issuer' claim ('iss') must be an Integer"
	case claims.ExpiresAt.After(now.Add(10 * time.Minute)):
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}

// installation wraps an endpoint that needs an installation token
// ("token …" or "Bearer …").
func (g *GitHub) installation(endpoint string, h func(w http.ResponseWriter, r *http.Request, token, inst string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.rateHeaders(w, "core")
		if status := g.take(endpoint); status != 0 {
			githubError(w, status, "Injected failure")
			return
		}
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "token ")
		if !ok {
			token, _ = strings.CutPrefix(auth, "Bearer ")
		}
		g.mu.Lock()
		t, live := g.liveToken(token)
		g.mu.Unlock()
		if !live {
			githubError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		h(w, r, token, t.installation)
	}
}

func (g *GitHub) getInstallation(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	in, ok := g.installations[r.PathValue("id")]
	var v map[string]any
	if ok {
		v = map[string]any{
			"id": in.ID, "app_id": g.AppID, "app_slug": g.AppSlug, "target_type": in.TargetType, "target_id": in.ID * 7,
			"account":              map[string]any{"login": in.Login, "id": in.ID * 7, "type": in.TargetType},
			"repository_selection": "selected", "permissions": map[string]string{"issues": "read", "metadata": "read"},
			"events": []string{"issues", "push"}, "suspended_at": nil,
		}
		if in.Suspended {
			v["suspended_at"] = g.now().UTC().Format(time.RFC3339)
		}
	}
	g.mu.Unlock()
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (g *GitHub) createToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g.mu.Lock()
	in, ok := g.installations[id]
	suspended := ok && in.Suspended
	var token string
	var exp time.Time
	if ok && !suspended {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		token = "ghs_" + hex.EncodeToString(b)
		exp = g.now().Add(g.tokenTTL).UTC().Truncate(time.Second)
		g.tokens[token] = githubToken{installation: id, expires: exp}
	}
	g.mu.Unlock()
	switch {
	case !ok:
		githubError(w, http.StatusNotFound, "Not Found")
	case suspended:
		githubError(w, http.StatusForbidden, "This installation has been suspended")
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": exp.Format(time.RFC3339),
			"permissions": map[string]string{"issues": "read", "metadata": "read"}, "repository_selection": "selected"})
	}
}

func (g *GitHub) listRepositories(w http.ResponseWriter, r *http.Request, token, inst string) {
	g.mu.Lock()
	var repos []GitHubRepo
	if in := g.installations[inst]; in != nil {
		repos = append(repos, in.Repos...)
	}
	per := g.perPage
	g.mu.Unlock()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	if p, _ := strconv.Atoi(r.URL.Query().Get("per_page")); p > 0 && p < per {
		per = p
	}
	start := min((page-1)*per, len(repos))
	end := min(start+per, len(repos))
	items := []map[string]any{}
	for _, rp := range repos[start:end] {
		items = append(items, map[string]any{"id": rp.ID, "node_id": "R_" + strconv.FormatInt(rp.ID, 36),
			"full_name": rp.FullName, "name": rp.FullName[strings.LastIndex(rp.FullName, "/")+1:], "private": true})
	}
	if end < len(repos) {
		link := func(p int) string {
			u := *r.URL
			q := u.Query()
			q.Set("page", strconv.Itoa(p))
			u.RawQuery = q.Encode()
			return g.srv.URL + u.RequestURI()
		}
		last := (len(repos) + per - 1) / per
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, link(page+1), link(last)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repository_selection": "selected", "repositories": items})
}

func (g *GitHub) revokeToken(w http.ResponseWriter, r *http.Request, token, inst string) {
	g.mu.Lock()
	delete(g.tokens, token)
	g.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func githubError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// writeJSON answers status with v as JSON; the provider simulators share it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
