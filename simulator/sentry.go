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

// Sentry simulates a Sentry public integration's API: the installation's
// authorizations endpoint (single-use codes, rotating refresh tokens,
// expiring tokens), the installation, and an organization's projects
// paginated with Sentry's Link cursors (results="true|false"), with its
// rate-limit headers and {"detail": …} errors. Calls and FailNext name its
// endpoints token_code, token_refresh, get_installation and list_projects.
type Sentry struct {
	calls
	ClientID, ClientSecret, Slug string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	installs map[string]*SentryInstallation // by uuid
	codes    map[string]string              // code → installation
	access   map[string]sentryGrant
	refresh  map[string]string // refresh token → installation
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

type sentryGrant struct {
	installation string
	expires      time.Time
}

// NewSentry starts a Sentry simulator. now may be nil.
func NewSentry(now func() time.Time) *Sentry {
	if now == nil {
		now = time.Now
	}
	s := &Sentry{ClientID: "sentry-client", ClientSecret: "sentry-secret-" + randomHex(8), Slug: "relay-test", now: now,
		installs: map[string]*SentryInstallation{}, codes: map[string]string{}, access: map[string]sentryGrant{},
		refresh: map[string]string{}, ttl: 8 * time.Hour, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sentry-apps/{slug}/external-install/", func(w http.ResponseWriter, r *http.Request) {
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

// AddInstallation makes an installation exist.
func (s *Sentry) AddInstallation(in SentryInstallation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installs[in.UUID] = &in
}

// SetTokenTTL sets the lifetime of new tokens (default 8 h).
func (s *Sentry) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.ttl = d
	s.mu.Unlock()
}

// ValidToken reports whether an access token is live.
func (s *Sentry) ValidToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[token]
	return ok && s.now().Before(g.expires)
}

// InstallRedirect plays the install: it issues a code for the installation
// and returns the integration's redirect URL with code, installationId,
// orgSlug and state.
func (s *Sentry) InstallRedirect(redirectURL, state, installationUUID string) string {
	code := "sentry-code-" + randomHex(10)
	s.mu.Lock()
	s.codes[code] = installationUUID
	org := ""
	if in := s.installs[installationUUID]; in != nil {
		org = in.OrgSlug
	}
	s.mu.Unlock()
	return redirectURL + "?" + url.Values{"code": {code}, "installationId": {installationUUID}, "orgSlug": {org},
		"state": {state}}.Encode()
}

func sentryErr(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func (s *Sentry) authorizations(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GrantType    string `json:"grant_type"`
		Code         string `json:"code"`
		RefreshToken string `json:"refresh_token"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	endpoint := "token_code"
	if in.GrantType == "refresh_token" {
		endpoint = "token_refresh"
	}
	if status := s.take(endpoint); status != 0 {
		sentryErr(w, status, "Injected failure")
		return
	}
	if in.ClientID != s.ClientID || in.ClientSecret != s.ClientSecret {
		sentryErr(w, http.StatusUnauthorized, "Invalid client credentials")
		return
	}
	uuid := r.PathValue("uuid")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch in.GrantType {
	case "authorization_code":
		inst, ok := s.codes[in.Code]
		delete(s.codes, in.Code)
		if !ok || inst != uuid {
			sentryErr(w, http.StatusUnauthorized, "Invalid grant")
			return
		}
	case "refresh_token":
		inst, ok := s.refresh[in.RefreshToken]
		delete(s.refresh, in.RefreshToken)
		if !ok || inst != uuid {
			sentryErr(w, http.StatusUnauthorized, "Invalid grant")
			return
		}
	default:
		sentryErr(w, http.StatusBadRequest, "Invalid grant_type")
		return
	}
	access, refresh := "sntrys_"+randomHex(16), "sntryr_"+randomHex(16)
	exp := s.now().Add(s.ttl).UTC()
	s.access[access] = sentryGrant{installation: uuid, expires: exp}
	s.refresh[refresh] = uuid
	writeJSON(w, http.StatusCreated, map[string]any{"id": randomHex(4), "token": access, "refreshToken": refresh,
		"expiresAt": exp.Format(time.RFC3339Nano), "application": nil, "scopes": []string{"project:read", "event:read"}})
}

func (s *Sentry) authed(endpoint string, h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Sentry-Rate-Limit-Limit", "40")
		w.Header().Set("X-Sentry-Rate-Limit-Remaining", "39")
		w.Header().Set("X-Sentry-Rate-Limit-Reset", strconv.FormatInt(s.now().Add(time.Second).Unix(), 10))
		if status := s.take(endpoint); status != 0 {
			sentryErr(w, status, "Injected failure")
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		g, ok := s.access[tok]
		s.mu.Unlock()
		if !ok || !s.now().Before(g.expires) {
			sentryErr(w, http.StatusUnauthorized, "Invalid token")
			return
		}
		h(w, r, g.installation)
	}
}

func (s *Sentry) getInstallation(w http.ResponseWriter, r *http.Request, inst string) {
	s.mu.Lock()
	in := s.installs[r.PathValue("uuid")]
	s.mu.Unlock()
	if in == nil || in.UUID != inst {
		sentryErr(w, http.StatusNotFound, "The requested resource does not exist")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"uuid": in.UUID, "status": "installed",
		"organization": map[string]string{"slug": in.OrgSlug}})
}

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
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		parts := strings.Split(c, ":") // Sentry cursors look like "0:100:0"
		if len(parts) == 3 {
			start, _ = strconv.Atoi(parts[1])
		}
	}
	start = min(start, len(projects))
	end := min(start+per, len(projects))
	items := []map[string]string{}
	for _, p := range projects[start:end] {
		items = append(items, map[string]string{"id": p.ID, "slug": p.Slug, "name": p.Slug})
	}
	base := s.srv.URL + r.URL.Path
	w.Header().Set("Link", fmt.Sprintf(`<%s?&cursor=0:%d:1>; rel="previous"; results="%t"; cursor="0:%d:1", <%s?&cursor=0:%d:0>; rel="next"; results="%t"; cursor="0:%d:0"`,
		base, max(start-per, 0), start > 0, max(start-per, 0), base, end, end < len(projects), end))
	writeJSON(w, http.StatusOK, items)
}
