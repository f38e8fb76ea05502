package simulator

import (
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

// Sentry simulates a Sentry public integration's API, following
// PROVIDERS.md: the external install page, the installation's
// authorizations endpoint (single-use codes; tokens lasting 8 h by default;
// refresh tokens rotated on every use, the previous one then refused), the
// installation, and an organization's projects paginated two per page with
// Sentry's Link cursors (rel="previous"/"next" with results="true|false"),
// with X-Sentry-Rate-Limit-* headers and {"detail": …} errors.
//
// A refresh rewrites the installation's token in place, as Sentry's
// ApiToken.refresh does: the previous access token stops working too.
//
// Calls and FailNext name its endpoints token_code, token_refresh,
// get_installation and list_projects.
type Sentry struct {
	calls
	// ClientID and ClientSecret identify the integration; Slug names it in
	// the install URL.
	ClientID, ClientSecret, Slug string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	installs map[string]*SentryInstallation // by uuid
	codes    map[string]string              // code → installation
	access   map[string]*sentryGrant        // access token → grant
	refresh  map[string]*sentryGrant        // refresh token → grant
	ttl      time.Duration
	perPage  int
}

// SentryInstallation is an install of the integration in an organization.
type SentryInstallation struct {
	UUID, OrgSlug string
	Projects      []SentryProject
}

// SentryProject is a project of the organization.
type SentryProject struct{ ID, Slug string }

// sentryGrant is one token pair; refresh rewrites it.
type sentryGrant struct {
	installation  string
	access, renew string
	expires       time.Time
}

// NewSentry starts a Sentry simulator on now's clock (time.Now when nil).
// Close stops it.
func NewSentry(now func() time.Time) *Sentry {
	if now == nil {
		now = time.Now
	}
	s := &Sentry{ClientID: "sentry-client-" + randomHex(8), ClientSecret: "sentry-secret-" + randomHex(16), Slug: "relay-test", now: now,
		installs: map[string]*SentryInstallation{}, codes: map[string]string{}, access: map[string]*sentryGrant{},
		refresh: map[string]*sentryGrant{}, ttl: 8 * time.Hour, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sentry-apps/{slug}/external-install/", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("slug") != s.Slug {
			sentryErr(w, http.StatusNotFound, "The requested resource does not exist")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>Install integration</body></html>")
	})
	mux.HandleFunc("POST /api/0/sentry-app-installations/{uuid}/authorizations/", s.authorizations)
	mux.HandleFunc("GET /api/0/sentry-app-installations/{uuid}/", s.authed("get_installation", s.getInstallation))
	mux.HandleFunc("GET /api/0/organizations/{org}/projects/", s.authed("list_projects", s.listProjects))
	s.srv = httptest.NewServer(mux)
	return s
}

// URL serves the web and API paths.
func (s *Sentry) URL() string { return s.srv.URL }

// Close stops the simulator.
func (s *Sentry) Close() { s.srv.Close() }

// AddInstallation makes an installation exist, replacing one with the same
// uuid.
func (s *Sentry) AddInstallation(in SentryInstallation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in.Projects = append([]SentryProject(nil), in.Projects...)
	s.installs[in.UUID] = &in
}

// RemoveInstallation uninstalls the integration: the installation's codes
// and tokens stop working.
func (s *Sentry) RemoveInstallation(uuid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.installs, uuid)
	for code, inst := range s.codes {
		if inst == uuid {
			delete(s.codes, code)
		}
	}
	for tok, g := range s.access {
		if g.installation == uuid {
			delete(s.access, tok)
			delete(s.refresh, g.renew)
		}
	}
}

// SetTokenTTL sets the lifetime of new tokens (default 8 h).
func (s *Sentry) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.ttl = d
	s.mu.Unlock()
}

// ValidToken reports whether an access token is live (issued, not expired,
// not replaced by a refresh).
func (s *Sentry) ValidToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[token]
	return ok && s.now().Before(g.expires)
}

// ValidRefreshToken reports whether a refresh token can still be used
// (refresh tokens are single-use: each refresh rotates it).
func (s *Sentry) ValidRefreshToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.refresh[token]
	return ok
}

// InstallRedirect plays the install: it issues a single-use code for the
// installation and returns the integration's redirect URL with code,
// installationId, orgSlug and state.
func (s *Sentry) InstallRedirect(redirectURL, state, installationUUID string) string {
	code := randomHex(20)
	s.mu.Lock()
	s.codes[code] = installationUUID
	org := ""
	if in := s.installs[installationUUID]; in != nil {
		org = in.OrgSlug
	}
	s.mu.Unlock()
	sep := "?"
	if strings.Contains(redirectURL, "?") {
		sep = "&"
	}
	return redirectURL + sep + url.Values{"code": {code}, "installationId": {installationUUID}, "orgSlug": {org},
		"state": {state}}.Encode()
}

func sentryErr(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// authorizations is POST /api/0/sentry-app-installations/{uuid}/authorizations/.
func (s *Sentry) authorizations(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GrantType    string `json:"grant_type"`
		Code         string `json:"code"`
		RefreshToken string `json:"refresh_token"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	decodeErr := json.NewDecoder(r.Body).Decode(&in)
	endpoint := "token_code"
	if in.GrantType == "refresh_token" {
		endpoint = "token_refresh"
	}
	if status := s.take(endpoint); status != 0 {
		sentryErr(w, status, "Injected failure")
		return
	}
	if decodeErr != nil {
		sentryErr(w, http.StatusBadRequest, "Malformed request")
		return
	}
	if in.ClientID != s.ClientID || in.ClientSecret != s.ClientSecret {
		sentryErr(w, http.StatusUnauthorized, "Invalid client credentials")
		return
	}
	uuid := r.PathValue("uuid")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.installs[uuid] == nil {
		sentryErr(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	var g *sentryGrant
	switch in.GrantType {
	case "authorization_code":
		inst, ok := s.codes[in.Code]
		if ok && inst == uuid {
			delete(s.codes, in.Code) // single use
		}
		if !ok || inst != uuid {
			sentryErr(w, http.StatusUnauthorized, "Invalid grant")
			return
		}
		g = &sentryGrant{installation: uuid}
	case "refresh_token":
		old, ok := s.refresh[in.RefreshToken]
		if !ok || old.installation != uuid {
			sentryErr(w, http.StatusUnauthorized, "Invalid refresh token")
			return
		}
		delete(s.refresh, old.renew)
		delete(s.access, old.access)
		g = old
	default:
		sentryErr(w, http.StatusBadRequest, "Invalid grant_type")
		return
	}
	g.access, g.renew = randomHex(32), randomHex(32)
	g.expires = s.now().Add(s.ttl).UTC()
	s.access[g.access], s.refresh[g.renew] = g, g
	writeJSON(w, http.StatusCreated, map[string]any{"id": strconv.Itoa(len(s.access)), "token": g.access, "refreshToken": g.renew,
		"dateCreated": s.now().UTC().Format("2006-01-02T15:04:05.000000Z"), "expiresAt": g.expires.Format("2006-01-02T15:04:05.000000Z"),
		"state": nil, "application": nil, "scopes": []string{"project:read", "event:read", "org:read"}})
}

// authed wraps an endpoint that needs an access token ("Bearer …").
func (s *Sentry) authed(endpoint string, h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Sentry-Rate-Limit-Limit", "40")
		w.Header().Set("X-Sentry-Rate-Limit-Remaining", "39")
		w.Header().Set("X-Sentry-Rate-Limit-Reset", strconv.FormatInt(s.now().Add(time.Second).Unix(), 10))
		w.Header().Set("X-Sentry-Rate-Limit-ConcurrentLimit", "25")
		w.Header().Set("X-Sentry-Rate-Limit-ConcurrentRemaining", "24")
		if status := s.take(endpoint); status != 0 {
			sentryErr(w, status, "Injected failure")
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		g, known := s.access[tok]
		live := ok && known && s.now().Before(g.expires)
		s.mu.Unlock()
		if !live {
			sentryErr(w, http.StatusUnauthorized, "Invalid token")
			return
		}
		h(w, r, g.installation)
	}
}

func (s *Sentry) getInstallation(w http.ResponseWriter, r *http.Request, inst string) {
	s.mu.Lock()
	in := s.installs[r.PathValue("uuid")]
	var v map[string]any
	if in != nil && in.UUID == inst {
		v = map[string]any{"uuid": in.UUID, "status": "installed", "code": nil,
			"app":          map[string]string{"uuid": "64bf2cf4-37ca-4365-8dd3-6b6e56d741b8", "slug": s.Slug},
			"organization": map[string]string{"slug": in.OrgSlug}}
	}
	s.mu.Unlock()
	if v == nil {
		sentryErr(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// listProjects pages with Sentry's offset cursors "<per page>:<page>:<is
// previous>"; the Link header always has both rel="previous" and
// rel="next", and results says whether following it yields anything.
func (s *Sentry) listProjects(w http.ResponseWriter, r *http.Request, inst string) {
	s.mu.Lock()
	in := s.installs[inst]
	var projects []SentryProject
	if in != nil && in.OrgSlug == r.PathValue("org") {
		projects = append(projects, in.Projects...)
	}
	per := s.perPage
	s.mu.Unlock()
	if in == nil || in.OrgSlug != r.PathValue("org") {
		sentryErr(w, http.StatusForbidden, "You do not have permission to perform this action.")
		return
	}
	page := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		parts := strings.Split(c, ":")
		p, err := strconv.Atoi(parts[min(1, len(parts)-1)])
		if len(parts) != 3 || err != nil || p < 0 {
			sentryErr(w, http.StatusBadRequest, "Invalid cursor parameter.")
			return
		}
		page = p
	}
	start := min(page*per, len(projects))
	end := min(start+per, len(projects))
	items := []map[string]any{}
	for _, p := range projects[start:end] {
		items = append(items, map[string]any{"id": p.ID, "slug": p.Slug, "name": p.Slug, "platform": "python",
			"dateCreated": "2024-05-14T16:08:02.110000Z", "isMember": true, "hasAccess": true})
	}
	base := s.srv.URL + r.URL.Path
	prev, next := fmt.Sprintf("%d:%d:1", per, page-1), fmt.Sprintf("%d:%d:0", per, page+1)
	w.Header().Set("Link", fmt.Sprintf(`<%s?&cursor=%s>; rel="previous"; results="%t"; cursor="%s", <%s?&cursor=%s>; rel="next"; results="%t"; cursor="%s"`,
		base, prev, page > 0, prev, base, next, end < len(projects), next))
	writeJSON(w, http.StatusOK, items)
}
