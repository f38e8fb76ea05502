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
// following PROVIDERS.md: the install page, App JWT authentication (RS256,
// exp at most 10 minutes ahead), installation tokens valid one hour,
// installation repositories paginated with Link headers, and token
// revocation. It serves both the web and the API paths on one URL. Calls
// and FailNext name its endpoints get_installation, create_token,
// list_repositories and revoke_token.
type GitHub struct {
	calls
	AppID   string
	AppSlug string
	Key     *rsa.PrivateKey // the App's private key (give it to the connector)

	srv *httptest.Server
	now func() time.Time

	mu            sync.Mutex
	installations map[string]*GitHubInstallation
	tokens        map[string]githubToken // installation token → what it grants
	tokenTTL      time.Duration
	perPage       int
}

// GitHubInstallation is one installation of the App.
type GitHubInstallation struct {
	ID         int64
	Login      string
	TargetType string // Organization | User
	Repos      []GitHubRepo
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

var (
	simKeyOnce sync.Once
	simKey     *rsa.PrivateKey
)

// simulatorKey returns a 2048-bit RSA key generated once per process.
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

// NewGitHub starts a GitHub simulator for an App with id 1001 and slug
// "relay-test". now may be nil (time.Now).
func NewGitHub(now func() time.Time) *GitHub {
	if now == nil {
		now = time.Now
	}
	g := &GitHub{AppID: "1001", AppSlug: "relay-test", Key: simulatorKey(), now: now,
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

// AddInstallation makes an installation of the App exist.
func (g *GitHub) AddInstallation(in GitHubInstallation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in.TargetType == "" {
		in.TargetType = "Organization"
	}
	g.installations[strconv.FormatInt(in.ID, 10)] = &in
}

// SetTokenTTL changes how long new installation tokens last.
func (g *GitHub) SetTokenTTL(d time.Duration) {
	g.mu.Lock()
	g.tokenTTL = d
	g.mu.Unlock()
}

// ValidToken reports whether an installation token is live (not expired,
// not revoked).
func (g *GitHub) ValidToken(token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tokens[token]
	return ok && g.now().Before(t.expires)
}

// InstallRedirect is where GitHub sends the browser after the install page:
// the App's setup URL with installation_id, setup_action and state.
func (g *GitHub) InstallRedirect(setupURL, state string, installationID int64, setupAction string) string {
	q := url.Values{"setup_action": {setupAction}, "state": {state}}
	if installationID != 0 {
		q.Set("installation_id", strconv.FormatInt(installationID, 10))
	}
	return setupURL + "?" + q.Encode()
}

// installPage shows nothing: the simulator cannot click "Install", so tests
// build the redirect with InstallRedirect. It answers 200 so the authorize
// URL can be checked to exist.
func (g *GitHub) installPage(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("slug") != g.AppSlug {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	fmt.Fprintf(w, "<html><body>Install %s</body></html>", g.AppSlug)
}

// app wraps an endpoint that needs an App JWT.
func (g *GitHub) app(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if status := g.take(endpoint); status != 0 {
			githubError(w, status, "Injected failure")
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			githubError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
			return
		}
		now := g.now()
		claims := &jwt.RegisteredClaims{}
		_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &g.Key.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
			jwt.WithIssuedAt(), jwt.WithExpirationRequired())
		switch {
		case err != nil:
			githubError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
			return
		case claims.Issuer != g.AppID:
			githubError(w, http.StatusUnauthorized, "'Issuer' claim ('iss') must be an Integer")
			return
		case claims.ExpiresAt.Time.After(now.Add(10 * time.Minute)):
			githubError(w, http.StatusUnauthorized, "'Expiration time' claim ('exp') is too far in the future")
			return
		}
		h(w, r)
	}
}

// installation wraps an endpoint that needs an installation token.
func (g *GitHub) installation(endpoint string, h func(w http.ResponseWriter, r *http.Request, token, inst string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if status := g.take(endpoint); status != 0 {
			githubError(w, status, "Injected failure")
			return
		}
		auth := r.Header.Get("Authorization")
		token := strings.TrimPrefix(strings.TrimPrefix(auth, "token "), "Bearer ")
		g.mu.Lock()
		t, ok := g.tokens[token]
		g.mu.Unlock()
		if !ok || !g.now().Before(t.expires) {
			githubError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		h(w, r, token, t.installation)
	}
}

func (g *GitHub) getInstallation(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	in, ok := g.installations[r.PathValue("id")]
	g.mu.Unlock()
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": in.ID, "app_id": g.AppID, "target_type": in.TargetType,
		"account": map[string]any{"login": in.Login, "id": in.ID * 7, "type": in.TargetType},
	})
}

func (g *GitHub) createToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g.mu.Lock()
	_, ok := g.installations[id]
	var token string
	var exp time.Time
	if ok {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		token = "ghs_" + hex.EncodeToString(b)
		exp = g.now().Add(g.tokenTTL).UTC().Truncate(time.Second)
		g.tokens[token] = githubToken{installation: id, expires: exp}
	}
	g.mu.Unlock()
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": exp.Format(time.RFC3339),
		"permissions": map[string]string{"issues": "read", "metadata": "read"}, "repository_selection": "selected"})
}

func (g *GitHub) listRepositories(w http.ResponseWriter, r *http.Request, token, inst string) {
	g.mu.Lock()
	in := g.installations[inst]
	var repos []GitHubRepo
	if in != nil {
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
		items = append(items, map[string]any{"id": rp.ID, "full_name": rp.FullName, "name": rp.FullName[strings.LastIndex(rp.FullName, "/")+1:]})
	}
	if end < len(repos) {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, g.srv.URL, next.RequestURI()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repositories": items})
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
