package simulator

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub simulates the parts of GitHub a GitHub App's connect flow uses,
// following docs/providers.md: the install page, App JWT authentication (RS256
// with the App's key; iat not in the future, exp required and at most 10
// minutes ahead, iss the App id or client id), installation tokens valid one
// hour with expires_at, the installation's repositories paginated (two per
// page) with Link rel="next", token revocation, the user authorization
// that the App setting "Request user authorization (OAuth) during
// installation" adds to the install (see GitHubUser), and, once SeedHistory
// has run, the repositories' issues, pull requests and releases (see
// SeedHistory). It serves both the web and the API paths on one URL and
// answers with GitHub's {"message", "documentation_url"} errors and
// x-ratelimit-* headers.
//
// Calls and FailNext name its endpoints get_installation, create_token,
// list_repositories, revoke_token, user_token, user_installations,
// revoke_user_token, list-issues, list-pulls and list-releases.
// SetRateLimit, RateLimitNext and DelayNext apply to the endpoints
// authenticated with an installation token; past the limit GitHub answers
// 403 with x-ratelimit-remaining 0.
type GitHub struct {
	calls
	apiLimits
	// AppID and ClientID are the App's ids; either is accepted as a JWT's iss.
	AppID, ClientID string
	// ClientSecret is the App's OAuth client secret, for exchanging a
	// user's code.
	ClientSecret string
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
	setup         *githubSetup                  // where the install page sends the browser, if set
	history       map[string]*githubRepoHistory // by repository id, from SeedHistory
	users         map[string]*GitHubUser        // by login
	installer     map[string]string             // installation id → the login of who installed it
	userCodes     map[string]githubUserCode     // user authorization code → what it grants
	userTokens    map[string]githubUserToken    // user access token → whose
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
// "Iv23liRelayTest0001", client secret "relay-test-client-secret" and slug
// "relay-test", on now's clock (time.Now when nil). Close stops it.
func NewGitHub(now func() time.Time) *GitHub {
	if now == nil {
		now = time.Now
	}
	g := &GitHub{AppID: "1001", ClientID: "Iv23liRelayTest0001", ClientSecret: "relay-test-client-secret", AppSlug: "relay-test",
		Key: simulatorKey(), now: now, installations: map[string]*GitHubInstallation{}, tokens: map[string]githubToken{},
		tokenTTL: time.Hour, perPage: 2, users: map[string]*GitHubUser{}, installer: map[string]string{},
		userCodes: map[string]githubUserCode{}, userTokens: map[string]githubUserToken{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{slug}/installations/new", g.installPage)
	mux.HandleFunc("GET /app/installations/{id}", g.app("get_installation", g.getInstallation))
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", g.app("create_token", g.createToken))
	mux.HandleFunc("GET /installation/repositories", g.installation("list_repositories", g.listRepositories))
	mux.HandleFunc("DELETE /installation/token", g.installation("revoke_token", g.revokeToken))
	mux.HandleFunc("POST /login/oauth/access_token", g.userToken)
	mux.HandleFunc("GET /user/installations", g.userInstallations)
	mux.HandleFunc("DELETE /applications/{client_id}/token", g.revokeUserToken)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues", g.installation("list-issues", g.listIssues))
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", g.installation("list-pulls", g.listPulls))
	mux.HandleFunc("GET /repos/{owner}/{repo}/releases", g.installation("list-releases", g.listReleases))
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
// with the same id. Its installer is the user who installed it: the
// account itself for a User installation, else the user "<login>-admin";
// that user is created when missing (see AddUser) and can access the
// installation.
func (g *GitHub) AddInstallation(in GitHubInstallation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in.TargetType == "" {
		in.TargetType = "Organization"
	}
	in.Repos = append([]GitHubRepo(nil), in.Repos...)
	g.installations[strconv.FormatInt(in.ID, 10)] = &in
	g.addInstaller(&in)
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
// 0), setup_action (install, update or request), state, and, when the
// installation has an installer (AddInstallation), the code of that user's
// authorization (see InstallRedirectAs).
func (g *GitHub) InstallRedirect(setupURL, state string, installationID int64, setupAction string) string {
	g.mu.Lock()
	login := g.installer[strconv.FormatInt(installationID, 10)]
	g.mu.Unlock()
	return g.InstallRedirectAs(login, setupURL, state, installationID, setupAction)
}

// InstallRedirectAs is InstallRedirect for an install by the user login
// (AddUser): its code is that user's authorization, whatever installation
// the redirect names, which is what a spoofed installation_id looks like.
// An empty login leaves the code out.
func (g *GitHub) InstallRedirectAs(login, setupURL, state string, installationID int64, setupAction string) string {
	q := url.Values{"setup_action": {setupAction}, "state": {state}}
	if installationID != 0 {
		q.Set("installation_id", strconv.FormatInt(installationID, 10))
	}
	if login != "" {
		q.Set("code", g.UserCode(login))
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

// githubRateHeaders are GitHub's rate-limit headers; past the limit it
// answers 403 (primary rate limit).
var githubRateHeaders = rateHeaders{limit: "X-Ratelimit-Limit", remaining: "X-Ratelimit-Remaining",
	reset: "X-Ratelimit-Reset", status: http.StatusForbidden}

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
		if !g.admit(w, r, endpoint, githubRateHeaders) {
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
		v = g.installationJSON(in)
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

// githubItem is one seeded issue, pull request or release: what the list
// endpoints filter and sort on, and its JSON, rendered once at seed time so
// that answering a page is a copy.
type githubItem struct {
	id       int64
	state    string    // open | closed
	created  time.Time // created_at
	updated  time.Time // updated_at; for a release published_at, or created_at for a draft
	comments int
	json     []byte
}

// githubRepoHistory is one repository's seeded history, each list in the
// orders its endpoint sorts by.
type githubRepoHistory struct {
	issues, issuesByCreated []*githubItem // issues and pull requests as issues, oldest first
	pulls, pullsByCreated   []*githubItem // oldest first
	releases                []*githubItem // newest created first
	history                 map[string][]HistoryItem
}

// SeedHistory generates the history of every repository the installations
// have: perResource issues, perResource pull requests and perResource
// releases each, their times spread evenly over [now-span, now) on the
// simulator's clock (rounded up to the second, GitHub's precision): an
// issue's or pull request's updated_at (created 36 hours before, so some
// were created before the span), a release's published_at, or its
// created_at for a draft (every fifth release; published releases were
// created 10 minutes before publication). Every third issue and every
// fourth pull request is closed, half of those pull requests merged.
//
// The history is served by GET /repos/{owner}/{repo}/issues (state, sort
// created|updated|comments, direction, since; the pull requests are listed
// too, with a pull_request key, as on GitHub), /pulls (state, sort
// created|updated|popularity|long-running, direction — the last two sorts
// approximated by comments and created) and /releases (newest created
// first), paginated with per_page (default 30, at most 100), page and Link
// rel="prev"/"next"/"last"/"first". A repository the token's installation
// does not have is 404; a bad parameter 422.
//
// SeedHistory replaces earlier history; repositories added later have none.
// perResource or span ≤ 0 clears it.
func (g *GitHub) SeedHistory(perResource int, span time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.history = map[string]*githubRepoHistory{}
	if perResource <= 0 || span <= 0 {
		return
	}
	now := g.now()
	for _, k := range slices.Sorted(maps.Keys(g.installations)) {
		for _, rp := range g.installations[k].Repos {
			id := strconv.FormatInt(rp.ID, 10)
			if g.history[id] == nil {
				g.history[id] = g.seedRepo(rp, now.Add(-span), span/time.Duration(perResource), perResource)
			}
		}
	}
}

// History returns what SeedHistory generated for the repository with id
// resourceID (decimal) and entity "issues" (pull requests left out),
// "pull_requests" or "releases", oldest first: the objects' ids (the pull
// request's own id, not its issue's) and updated_at (a release's
// published_at, or created_at for a draft). It is nil for anything else.
func (g *GitHub) History(resourceID, entity string) []HistoryItem {
	g.mu.Lock()
	defer g.mu.Unlock()
	if h := g.history[resourceID]; h != nil {
		return slices.Clone(h.history[entity])
	}
	return nil
}

// seedRepo generates one repository's history: item i at start + i·step
// (pull requests half a step later, so they interleave with the issues).
func (g *GitHub) seedRepo(rp GitHubRepo, start time.Time, step time.Duration, n int) *githubRepoHistory {
	h := &githubRepoHistory{history: map[string][]HistoryItem{}}
	owner, name, _ := strings.Cut(rp.FullName, "/")
	api, web := g.srv.URL+"/repos/"+rp.FullName, "https://github.com/"+rp.FullName
	repoRef := githubRepoRef{ID: rp.ID, NodeID: "R_kgDO" + strconv.FormatInt(rp.ID, 36), Name: name, FullName: rp.FullName,
		Private: true, HTMLURL: web, URL: api,
		Owner: githubUser{Login: owner, ID: 6811672, NodeID: "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
			AvatarURL: "https://avatars.githubusercontent.com/u/6811672?v=4", HTMLURL: "https://github.com/" + owner, Type: "Organization"}}
	for i := range n {
		user := githubUsers[i%len(githubUsers)]
		title := githubTitles[i%len(githubTitles)]

		// The issue: number 2i+1.
		at := ceilTo(start.Add(step*time.Duration(i)), time.Second)
		num := 2*i + 1
		iss := &githubItem{id: githubObjectID(rp.ID, 0, num), state: "open", created: at.Add(-36 * time.Hour), updated: at, comments: i % 7}
		if i%3 == 2 {
			iss.state = "closed"
		}
		iss.json = mustJSON(githubIssueBody(api, web, iss, num, title, user, false, nil))
		h.issues = append(h.issues, iss)
		h.history["issues"] = append(h.history["issues"], HistoryItem{ID: strconv.FormatInt(iss.id, 10), UpdatedAt: at})

		// The pull request: number 2i+2, also listed as an issue.
		at = ceilTo(start.Add(step*time.Duration(i)+step/2), time.Second)
		num = 2*i + 2
		pr := &githubItem{id: githubObjectID(rp.ID, 1, num), state: "open", created: at.Add(-36 * time.Hour), updated: at, comments: (i + 3) % 7}
		var merged *string
		if i%4 == 3 {
			pr.state = "closed"
			if i%8 == 7 {
				merged = stamp(at)
			}
		}
		asIssue := &githubItem{id: githubObjectID(rp.ID, 0, num), state: pr.state, created: pr.created, updated: at, comments: pr.comments}
		asIssue.json = mustJSON(githubIssueBody(api, web, asIssue, num, title, user, true, merged))
		pr.json = mustJSON(githubPullBody(api, web, pr, num, title, user, merged, repoRef))
		h.issues = append(h.issues, asIssue)
		h.pulls = append(h.pulls, pr)
		h.history["pull_requests"] = append(h.history["pull_requests"], HistoryItem{ID: strconv.FormatInt(pr.id, 10), UpdatedAt: at})

		// The release.
		at = ceilTo(start.Add(step*time.Duration(i)), time.Second)
		rel := &githubItem{id: githubObjectID(rp.ID, 2, i+1), state: "published", created: at.Add(-10 * time.Minute), updated: at}
		if i%5 == 4 {
			rel.state, rel.created = "draft", at
		}
		rel.json = mustJSON(githubReleaseBody(api, web, rel, i, user))
		h.releases = append(h.releases, rel)
		h.history["releases"] = append(h.history["releases"], HistoryItem{ID: strconv.FormatInt(rel.id, 10), UpdatedAt: at})
	}
	byUpdated := func(a, b *githubItem) int { return cmp.Or(a.updated.Compare(b.updated), cmp.Compare(a.id, b.id)) }
	byCreated := func(a, b *githubItem) int { return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id)) }
	slices.SortFunc(h.issues, byUpdated)
	slices.SortFunc(h.pulls, byUpdated)
	h.issuesByCreated = slices.SortedFunc(slices.Values(h.issues), byCreated)
	h.pullsByCreated = slices.SortedFunc(slices.Values(h.pulls), byCreated)
	slices.SortFunc(h.releases, func(a, b *githubItem) int { return byCreated(b, a) })
	for _, l := range h.history {
		slices.SortStableFunc(l, func(a, b HistoryItem) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	}
	return h
}

// githubObjectID gives seeded objects ids unique across repositories and
// kinds (0 issue, 1 pull request, 2 release), as GitHub's are.
func githubObjectID(repoID int64, kind, n int) int64 {
	return (repoID*4+int64(kind))*1_000_000 + int64(n)
}

// repoHistory returns the history of the repository owner/repo when the
// installation has it (GitHub names are case-insensitive).
func (g *GitHub) repoHistory(inst, owner, repo string) (*githubRepoHistory, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.installations[inst]
	if in == nil {
		return nil, false
	}
	for _, rp := range in.Repos {
		if strings.EqualFold(rp.FullName, owner+"/"+repo) {
			if h := g.history[strconv.FormatInt(rp.ID, 10)]; h != nil {
				return h, true
			}
			return &githubRepoHistory{}, true
		}
	}
	return nil, false
}

func (g *GitHub) listIssues(w http.ResponseWriter, r *http.Request, token, inst string) {
	g.listIssuesOrPulls(w, r, inst, false)
}

func (g *GitHub) listPulls(w http.ResponseWriter, r *http.Request, token, inst string) {
	g.listIssuesOrPulls(w, r, inst, true)
}

// listIssuesOrPulls serves GET /repos/{owner}/{repo}/issues or /pulls with
// GitHub's parameters and defaults (state open; sort created; direction
// desc, but asc for a pulls sort other than created).
func (g *GitHub) listIssuesOrPulls(w http.ResponseWriter, r *http.Request, inst string, pulls bool) {
	h, ok := g.repoHistory(inst, r.PathValue("owner"), r.PathValue("repo"))
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	byUpdated, byCreated := h.issues, h.issuesByCreated
	if pulls {
		byUpdated, byCreated = h.pulls, h.pullsByCreated
	}
	state := cmp.Or(q.Get("state"), "open")
	if state != "open" && state != "closed" && state != "all" {
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	var order []*githubItem
	switch sort := q.Get("sort"); {
	case sort == "" || sort == "created" || pulls && sort == "long-running":
		order = byCreated
	case sort == "updated":
		order = byUpdated
	case !pulls && sort == "comments" || pulls && sort == "popularity":
		order = slices.Clone(byCreated)
		slices.SortStableFunc(order, func(a, b *githubItem) int { return cmp.Compare(a.comments, b.comments) })
	default:
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	dir := q.Get("direction")
	if dir == "" {
		dir = "desc"
		if pulls && q.Get("sort") != "" && q.Get("sort") != "created" {
			dir = "asc"
		}
	}
	if dir != "asc" && dir != "desc" {
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	var since time.Time
	if s := q.Get("since"); s != "" && !pulls { // /pulls has no since (GitHub ignores it)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
			return
		}
		since = t
	}
	items := make([]*githubItem, 0, len(order))
	for i := range order {
		it := order[i]
		if dir == "desc" {
			it = order[len(order)-1-i]
		}
		if (state == "all" || it.state == state) && !it.updated.Before(since) {
			items = append(items, it)
		}
	}
	g.writePage(w, r, items)
}

// listReleases serves GET /repos/{owner}/{repo}/releases, newest first.
func (g *GitHub) listReleases(w http.ResponseWriter, r *http.Request, token, inst string) {
	h, ok := g.repoHistory(inst, r.PathValue("owner"), r.PathValue("repo"))
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	g.writePage(w, r, h.releases)
}

// writePage answers the page of items per_page and page ask for, with
// GitHub's Link header.
func (g *GitHub) writePage(w http.ResponseWriter, r *http.Request, items []*githubItem) {
	q := r.URL.Query()
	per := 30
	if p, err := strconv.Atoi(q.Get("per_page")); err == nil && p > 0 {
		per = min(p, 100)
	}
	page := 1
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 {
		page = min(p, 1<<30)
	}
	start := min((page-1)*per, len(items))
	end := min(start+per, len(items))
	last := max(1, (len(items)+per-1)/per)
	var links []string
	link := func(p int, rel string) {
		q.Set("page", strconv.Itoa(p))
		links = append(links, fmt.Sprintf(`<%s%s?%s>; rel="%s"`, g.srv.URL, r.URL.EscapedPath(), q.Encode(), rel))
	}
	if page > 1 {
		link(page-1, "prev")
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	n := 2
	for _, it := range items[start:end] {
		n += len(it.json) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, it := range items[start:end] {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.json...)
	}
	body = append(body, ']', '\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// The JSON of seeded objects, fields in GitHub's order.
type (
	githubUser struct {
		Login     string `json:"login"`
		ID        int64  `json:"id"`
		NodeID    string `json:"node_id"`
		AvatarURL string `json:"avatar_url"`
		HTMLURL   string `json:"html_url"`
		Type      string `json:"type"`
		SiteAdmin bool   `json:"site_admin"`
	}
	githubLabel struct {
		ID          int64  `json:"id"`
		NodeID      string `json:"node_id"`
		Name        string `json:"name"`
		Color       string `json:"color"`
		Default     bool   `json:"default"`
		Description string `json:"description"`
	}
	githubReactions struct {
		URL        string `json:"url"`
		TotalCount int    `json:"total_count"`
		PlusOne    int    `json:"+1"`
		MinusOne   int    `json:"-1"`
		Laugh      int    `json:"laugh"`
		Hooray     int    `json:"hooray"`
		Confused   int    `json:"confused"`
		Heart      int    `json:"heart"`
		Rocket     int    `json:"rocket"`
		Eyes       int    `json:"eyes"`
	}
	githubIssuePR struct {
		URL      string  `json:"url"`
		HTMLURL  string  `json:"html_url"`
		DiffURL  string  `json:"diff_url"`
		PatchURL string  `json:"patch_url"`
		MergedAt *string `json:"merged_at"`
	}
	githubIssue struct {
		URL               string          `json:"url"`
		RepositoryURL     string          `json:"repository_url"`
		LabelsURL         string          `json:"labels_url"`
		CommentsURL       string          `json:"comments_url"`
		EventsURL         string          `json:"events_url"`
		HTMLURL           string          `json:"html_url"`
		ID                int64           `json:"id"`
		NodeID            string          `json:"node_id"`
		Number            int             `json:"number"`
		Title             string          `json:"title"`
		User              githubUser      `json:"user"`
		Labels            []githubLabel   `json:"labels"`
		State             string          `json:"state"`
		Locked            bool            `json:"locked"`
		Assignee          *githubUser     `json:"assignee"`
		Assignees         []githubUser    `json:"assignees"`
		Milestone         any             `json:"milestone"`
		Comments          int             `json:"comments"`
		CreatedAt         string          `json:"created_at"`
		UpdatedAt         string          `json:"updated_at"`
		ClosedAt          *string         `json:"closed_at"`
		AuthorAssociation string          `json:"author_association"`
		ActiveLockReason  *string         `json:"active_lock_reason"`
		Draft             *bool           `json:"draft,omitempty"`
		PullRequest       *githubIssuePR  `json:"pull_request,omitempty"`
		Body              string          `json:"body"`
		Reactions         githubReactions `json:"reactions"`
		TimelineURL       string          `json:"timeline_url"`
		PerformedViaApp   any             `json:"performed_via_github_app"`
		StateReason       *string         `json:"state_reason"`
	}
	githubRepoRef struct {
		ID       int64      `json:"id"`
		NodeID   string     `json:"node_id"`
		Name     string     `json:"name"`
		FullName string     `json:"full_name"`
		Private  bool       `json:"private"`
		Owner    githubUser `json:"owner"`
		HTMLURL  string     `json:"html_url"`
		URL      string     `json:"url"`
	}
	githubBranch struct {
		Label string        `json:"label"`
		Ref   string        `json:"ref"`
		SHA   string        `json:"sha"`
		User  githubUser    `json:"user"`
		Repo  githubRepoRef `json:"repo"`
	}
	githubPull struct {
		URL                string        `json:"url"`
		ID                 int64         `json:"id"`
		NodeID             string        `json:"node_id"`
		HTMLURL            string        `json:"html_url"`
		DiffURL            string        `json:"diff_url"`
		PatchURL           string        `json:"patch_url"`
		IssueURL           string        `json:"issue_url"`
		CommitsURL         string        `json:"commits_url"`
		ReviewCommentsURL  string        `json:"review_comments_url"`
		CommentsURL        string        `json:"comments_url"`
		StatusesURL        string        `json:"statuses_url"`
		Number             int           `json:"number"`
		State              string        `json:"state"`
		Locked             bool          `json:"locked"`
		Title              string        `json:"title"`
		User               githubUser    `json:"user"`
		Body               string        `json:"body"`
		Labels             []githubLabel `json:"labels"`
		Milestone          any           `json:"milestone"`
		ActiveLockReason   *string       `json:"active_lock_reason"`
		CreatedAt          string        `json:"created_at"`
		UpdatedAt          string        `json:"updated_at"`
		ClosedAt           *string       `json:"closed_at"`
		MergedAt           *string       `json:"merged_at"`
		MergeCommitSHA     string        `json:"merge_commit_sha"`
		Assignee           *githubUser   `json:"assignee"`
		Assignees          []githubUser  `json:"assignees"`
		RequestedReviewers []githubUser  `json:"requested_reviewers"`
		RequestedTeams     []any         `json:"requested_teams"`
		Head               githubBranch  `json:"head"`
		Base               githubBranch  `json:"base"`
		AuthorAssociation  string        `json:"author_association"`
		AutoMerge          any           `json:"auto_merge"`
		Draft              bool          `json:"draft"`
	}
	githubRelease struct {
		URL             string     `json:"url"`
		AssetsURL       string     `json:"assets_url"`
		UploadURL       string     `json:"upload_url"`
		HTMLURL         string     `json:"html_url"`
		ID              int64      `json:"id"`
		Author          githubUser `json:"author"`
		NodeID          string     `json:"node_id"`
		TagName         string     `json:"tag_name"`
		TargetCommitish string     `json:"target_commitish"`
		Name            string     `json:"name"`
		Draft           bool       `json:"draft"`
		Prerelease      bool       `json:"prerelease"`
		CreatedAt       string     `json:"created_at"`
		PublishedAt     *string    `json:"published_at"`
		Assets          []any      `json:"assets"`
		TarballURL      string     `json:"tarball_url"`
		ZipballURL      string     `json:"zipball_url"`
		Body            string     `json:"body"`
	}
)

var githubUsers = []githubUser{
	{Login: "octocat", ID: 583231, NodeID: "MDQ6VXNlcjU4MzIzMQ==", AvatarURL: "https://avatars.githubusercontent.com/u/583231?v=4",
		HTMLURL: "https://github.com/octocat", Type: "User"},
	{Login: "hubot", ID: 480938, NodeID: "MDQ6VXNlcjQ4MDkzOA==", AvatarURL: "https://avatars.githubusercontent.com/u/480938?v=4",
		HTMLURL: "https://github.com/hubot", Type: "User"},
}

var githubTitles = []string{
	"Spelling error in the README file",
	"Crash when the config file is empty",
	"Add retry with backoff to the HTTP client",
	"Document the \"since\" parameter",
	"Flaky test: TestWebhookRedelivery",
}

var githubBug = githubLabel{ID: 208045946, NodeID: "MDU6TGFiZWwyMDgwNDU5NDY=", Name: "bug", Color: "d73a4a", Default: true,
	Description: "Something isn't working"}

func githubIssueBody(api, web string, it *githubItem, num int, title string, user githubUser, isPR bool, merged *string) githubIssue {
	n := strconv.Itoa(num)
	v := githubIssue{URL: api + "/issues/" + n, RepositoryURL: api, LabelsURL: api + "/issues/" + n + "/labels{/name}",
		CommentsURL: api + "/issues/" + n + "/comments", EventsURL: api + "/issues/" + n + "/events", HTMLURL: web + "/issues/" + n,
		ID: it.id, NodeID: "I_kwDO" + strconv.FormatInt(it.id, 36), Number: num, Title: title, User: user, Labels: []githubLabel{},
		State: it.state, Assignees: []githubUser{}, Comments: it.comments, CreatedAt: *stamp(it.created), UpdatedAt: *stamp(it.updated),
		AuthorAssociation: "MEMBER", Body: "Seen on main. Steps to reproduce are in the linked discussion.",
		Reactions:   githubReactions{URL: api + "/issues/" + n + "/reactions"},
		TimelineURL: api + "/issues/" + n + "/timeline"}
	if num%4 == 1 {
		v.Labels = []githubLabel{githubBug}
	}
	if it.state == "closed" {
		v.ClosedAt = stamp(it.updated)
		reason := "completed"
		v.StateReason = &reason
	}
	if isPR {
		draft := false
		v.NodeID, v.HTMLURL, v.Draft = "PR_kwDO"+strconv.FormatInt(it.id, 36), web+"/pull/"+n, &draft
		v.PullRequest = &githubIssuePR{URL: api + "/pulls/" + n, HTMLURL: web + "/pull/" + n, DiffURL: web + "/pull/" + n + ".diff",
			PatchURL: web + "/pull/" + n + ".patch", MergedAt: merged}
	}
	return v
}

func githubPullBody(api, web string, it *githubItem, num int, title string, user githubUser, merged *string, repo githubRepoRef) githubPull {
	n := strconv.Itoa(num)
	branch := "fix-" + n
	v := githubPull{URL: api + "/pulls/" + n, ID: it.id, NodeID: "PR_kwDO" + strconv.FormatInt(it.id, 36), HTMLURL: web + "/pull/" + n,
		DiffURL: web + "/pull/" + n + ".diff", PatchURL: web + "/pull/" + n + ".patch", IssueURL: api + "/issues/" + n,
		CommitsURL: api + "/pulls/" + n + "/commits", ReviewCommentsURL: api + "/pulls/" + n + "/comments",
		CommentsURL: api + "/issues/" + n + "/comments", StatusesURL: api + "/statuses/" + fakeSHA(it.id, 1),
		Number: num, State: it.state, Title: title, User: user, Body: "Fixes the problem described in the issue.",
		Labels: []githubLabel{}, CreatedAt: *stamp(it.created), UpdatedAt: *stamp(it.updated), MergedAt: merged,
		MergeCommitSHA: fakeSHA(it.id, 2), Assignees: []githubUser{}, RequestedReviewers: []githubUser{}, RequestedTeams: []any{},
		Head:              githubBranch{Label: repo.Owner.Login + ":" + branch, Ref: branch, SHA: fakeSHA(it.id, 1), User: repo.Owner, Repo: repo},
		Base:              githubBranch{Label: repo.Owner.Login + ":main", Ref: "main", SHA: fakeSHA(it.id, 3), User: repo.Owner, Repo: repo},
		AuthorAssociation: "MEMBER"}
	if it.state == "closed" {
		v.ClosedAt = stamp(it.updated)
	}
	return v
}

func githubReleaseBody(api, web string, it *githubItem, i int, user githubUser) githubRelease {
	id, tag := strconv.FormatInt(it.id, 10), fmt.Sprintf("v1.%d.0", i)
	v := githubRelease{URL: api + "/releases/" + id, AssetsURL: api + "/releases/" + id + "/assets",
		UploadURL: "https://uploads.github.com/repos/" + strings.TrimPrefix(web, "https://github.com/") + "/releases/" + id + "/assets{?name,label}",
		HTMLURL:   web + "/releases/tag/" + tag, ID: it.id, Author: user, NodeID: "RE_kwDO" + strconv.FormatInt(it.id, 36),
		TagName: tag, TargetCommitish: "main", Name: tag, CreatedAt: *stamp(it.created), Assets: []any{},
		TarballURL: api + "/tarball/" + tag, ZipballURL: api + "/zipball/" + tag, Body: "## What's Changed\n* Bug fixes and small improvements."}
	if it.state == "draft" {
		v.Draft, v.HTMLURL = true, web+"/releases/tag/untagged-"+fakeSHA(it.id, 4)[:20]
	} else {
		v.PublishedAt = stamp(it.updated)
	}
	return v
}

// stamp formats t as GitHub does ("2006-01-02T15:04:05Z").
func stamp(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// fakeSHA returns a commit-like hex string derived from id and salt.
func fakeSHA(id int64, salt byte) string {
	sum := sha1.Sum(append(strconv.AppendInt(nil, id, 10), salt))
	return hex.EncodeToString(sum[:])
}

// ceilTo rounds t up to a multiple of d, in UTC.
func ceilTo(t time.Time, d time.Duration) time.Time {
	c := t.Truncate(d)
	if c.Before(t) {
		c = c.Add(d)
	}
	return c.UTC()
}

// mustJSON encodes v, which cannot fail for the simulators' own types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
