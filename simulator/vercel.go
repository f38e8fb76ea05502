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

// Vercel simulates a Vercel integration's API: the install page, the
// single-use code exchange (form-encoded, codes valid 30 min, long-lived
// tokens without refresh), projects newest first and paginated with
// Vercel's {count, next, prev} object (next is the last item's updatedAt in
// ms, passed back as until; two per page), webhooks created and deleted
// through the API (each with its generated secret), and removing the
// integration configuration, which ends its tokens and webhooks. Team
// tokens need ?teamId=. Errors use Vercel's {"error":{code,message}}.
// Calls and FailNext name its endpoints exchange, list_projects,
// create_webhook, delete_webhook and remove_configuration.
type Vercel struct {
	calls
	ClientID, ClientSecret, Slug string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*VercelAccount // by configuration id
	codes    map[string]vercelCode
	tokens   map[string]string // token → configuration id
	webhooks map[string]VercelAPIWebhook
	perPage  int
}

// VercelAccount is an installation of the integration (a configuration) on
// a team (TeamID set) or a personal account.
type VercelAccount struct {
	ConfigurationID, TeamID, UserID string
	// Projects, newest first (the order Vercel lists them in).
	Projects []VercelProject
}

// VercelProject is a project of the account.
type VercelProject struct{ ID, Name string }

// VercelAPIWebhook is a webhook created through the API, as the simulator
// recorded it.
type VercelAPIWebhook struct {
	ID, ConfigurationID, URL, Secret string
	Events, ProjectIDs               []string
	// AuthorizedBy is the bearer token of the create request.
	AuthorizedBy string
}

type vercelCode struct {
	configuration string
	expires       time.Time
}

// vercelCodeTTL is how long an install code can be exchanged.
const vercelCodeTTL = 30 * time.Minute

// vercelUpdatedAt is the simulated updatedAt (ms) of a project's list
// position: newest first, a second apart.
func vercelUpdatedAt(i int) int64 { return 1715702882000 - int64(i)*1000 }

// NewVercel starts a Vercel simulator on now's clock (time.Now when nil).
func NewVercel(now func() time.Time) *Vercel {
	if now == nil {
		now = time.Now
	}
	v := &Vercel{ClientID: "oac_" + randomHex(8), ClientSecret: "vercel-secret-" + randomHex(8), Slug: "relay-test", now: now,
		accounts: map[string]*VercelAccount{}, codes: map[string]vercelCode{}, tokens: map[string]string{},
		webhooks: map[string]VercelAPIWebhook{}, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /integrations/{slug}/new", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("slug") != v.Slug {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "<html><body>Add integration</body></html>")
	})
	mux.HandleFunc("POST /v2/oauth/access_token", v.exchange)
	mux.HandleFunc("GET /v9/projects", v.authed("list_projects", v.listProjects))
	mux.HandleFunc("POST /v1/webhooks", v.authed("create_webhook", v.createWebhook))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", v.authed("delete_webhook", v.deleteWebhook))
	mux.HandleFunc("DELETE /v1/integrations/configuration/{id}", v.authed("remove_configuration", v.removeConfiguration))
	v.srv = httptest.NewServer(mux)
	return v
}

// URL is the simulator's base URL, for both the web (install) and the API
// paths.
func (v *Vercel) URL() string { return v.srv.URL }

// Close stops the simulator.
func (v *Vercel) Close() { v.srv.Close() }

// AddAccount makes an installation exist (replacing one with the same
// configuration id).
func (v *Vercel) AddAccount(a VercelAccount) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a.Projects = append([]VercelProject(nil), a.Projects...)
	v.accounts[a.ConfigurationID] = &a
}

// Webhooks returns the webhooks created through the API, in no order.
func (v *Vercel) Webhooks() []VercelAPIWebhook {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []VercelAPIWebhook
	for _, w := range v.webhooks {
		out = append(out, w)
	}
	return out
}

// ValidToken reports whether a token is live (its configuration not removed).
func (v *Vercel) ValidToken(token string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.tokens[token]
	return ok
}

// Installed reports whether the configuration exists (not removed).
func (v *Vercel) Installed(configurationID string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.accounts[configurationID]
	return ok
}

// InstallRedirect plays the install of configurationID, which AddAccount
// made exist: it issues a single-use code and returns redirectURL with
// code, configurationId, teamId (team installs only: the account's TeamID),
// next and state.
func (v *Vercel) InstallRedirect(redirectURL, state, configurationID string) string {
	code := "vercel-code-" + randomHex(10)
	v.mu.Lock()
	v.codes[code] = vercelCode{configuration: configurationID, expires: v.now().Add(vercelCodeTTL)}
	team := ""
	if a := v.accounts[configurationID]; a != nil {
		team = a.TeamID
	}
	v.mu.Unlock()
	q := url.Values{"code": {code}, "configurationId": {configurationID}, "next": {"https://vercel.com/dashboard"}, "state": {state}}
	if team != "" {
		q.Set("teamId", team)
	}
	return withQuery(redirectURL, q)
}

func vercelErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (v *Vercel) rateHeaders(w http.ResponseWriter) {
	w.Header().Set("X-RateLimit-Limit", "100")
	w.Header().Set("X-RateLimit-Remaining", "99")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(v.now().Add(time.Minute).Unix(), 10))
}

func (v *Vercel) exchange(w http.ResponseWriter, r *http.Request) {
	if status := v.take("exchange"); status != 0 {
		vercelErr(w, status, "internal_server_error", "Injected failure")
		return
	}
	_ = r.ParseForm()
	if r.PostForm.Get("client_id") != v.ClientID || r.PostForm.Get("client_secret") != v.ClientSecret {
		vercelErr(w, http.StatusBadRequest, "invalid_client", "Invalid client credentials")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	code, ok := v.codes[r.PostForm.Get("code")]
	delete(v.codes, r.PostForm.Get("code")) // single use
	a := v.accounts[code.configuration]
	if !ok || a == nil || !v.now().Before(code.expires) {
		vercelErr(w, http.StatusBadRequest, "invalid_grant", "Code is invalid, expired or was already used")
		return
	}
	tok := "vca_" + randomHex(16)
	v.tokens[tok] = a.ConfigurationID
	out := map[string]any{"access_token": tok, "token_type": "Bearer", "installation_id": a.ConfigurationID,
		"user_id": a.UserID, "team_id": nil}
	if a.TeamID != "" {
		out["team_id"] = a.TeamID
	}
	writeJSON(w, http.StatusOK, out)
}

// authed counts the call, answers an injected failure, and checks the
// bearer token and, for a team's token, ?teamId=.
func (v *Vercel) authed(endpoint string, h func(http.ResponseWriter, *http.Request, *VercelAccount, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v.rateHeaders(w)
		if status := v.take(endpoint); status != 0 {
			vercelErr(w, status, "internal_server_error", "Injected failure")
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		v.mu.Lock()
		cfg, ok := v.tokens[tok]
		a := v.accounts[cfg]
		v.mu.Unlock()
		if !ok || a == nil {
			vercelErr(w, http.StatusForbidden, "forbidden", "Not authorized")
			return
		}
		if a.TeamID != "" && r.URL.Query().Get("teamId") != a.TeamID {
			vercelErr(w, http.StatusForbidden, "forbidden", "Not authorized: teamId is required for team tokens")
			return
		}
		h(w, r, a, tok)
	}
}

func (v *Vercel) listProjects(w http.ResponseWriter, r *http.Request, a *VercelAccount, _ string) {
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			vercelErr(w, http.StatusBadRequest, "bad_request", "Invalid request: `limit` should be between 1 and 100")
			return
		}
		limit = n
	}
	until := int64(-1)
	if s := r.URL.Query().Get("until"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			vercelErr(w, http.StatusBadRequest, "bad_request", "Invalid request: `until` should be a number")
			return
		}
		until = n
	}
	v.mu.Lock()
	limit = min(limit, v.perPage)
	projects := append([]VercelProject(nil), a.Projects...)
	v.mu.Unlock()
	start := 0
	if until >= 0 {
		for start < len(projects) && vercelUpdatedAt(start) >= until {
			start++
		}
	}
	end := min(start+limit, len(projects))
	items := []map[string]any{}
	for i := start; i < end; i++ {
		items = append(items, map[string]any{"id": projects[i].ID, "name": projects[i].Name, "accountId": a.TeamID + a.UserID,
			"updatedAt": vercelUpdatedAt(i), "createdAt": vercelUpdatedAt(i) - 86400000})
	}
	var next, prev any
	if end < len(projects) {
		next = vercelUpdatedAt(end - 1)
	}
	if start > 0 && end > start {
		prev = vercelUpdatedAt(start)
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": items,
		"pagination": map[string]any{"count": len(items), "next": next, "prev": prev}})
}

func (v *Vercel) createWebhook(w http.ResponseWriter, r *http.Request, a *VercelAccount, tok string) {
	var in struct {
		URL        string   `json:"url"`
		Events     []string `json:"events"`
		ProjectIDs []string `json:"projectIds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.URL == "" || len(in.Events) == 0 {
		vercelErr(w, http.StatusBadRequest, "bad_request", "Invalid request: url and events are required")
		return
	}
	hook := VercelAPIWebhook{ID: "hook_" + randomHex(8), ConfigurationID: a.ConfigurationID, URL: in.URL,
		Secret: randomHex(12), Events: in.Events, ProjectIDs: in.ProjectIDs, AuthorizedBy: tok}
	v.mu.Lock()
	v.webhooks[hook.ID] = hook
	v.mu.Unlock()
	owner := a.TeamID
	if owner == "" {
		owner = a.UserID
	}
	out := map[string]any{"id": hook.ID, "url": hook.URL, "events": hook.Events, "secret": hook.Secret,
		"ownerId": owner, "createdAt": v.now().UnixMilli(), "updatedAt": v.now().UnixMilli()}
	if len(in.ProjectIDs) > 0 {
		out["projectIds"] = in.ProjectIDs
	}
	writeJSON(w, http.StatusOK, out)
}

func (v *Vercel) deleteWebhook(w http.ResponseWriter, r *http.Request, a *VercelAccount, _ string) {
	v.mu.Lock()
	hook, ok := v.webhooks[r.PathValue("id")]
	ok = ok && hook.ConfigurationID == a.ConfigurationID
	if ok {
		delete(v.webhooks, hook.ID)
	}
	v.mu.Unlock()
	if !ok {
		vercelErr(w, http.StatusNotFound, "not_found", "Webhook not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// removeConfiguration uninstalls the integration: the configuration, its
// tokens and its webhooks are gone.
func (v *Vercel) removeConfiguration(w http.ResponseWriter, r *http.Request, a *VercelAccount, _ string) {
	if r.PathValue("id") != a.ConfigurationID {
		vercelErr(w, http.StatusNotFound, "not_found", "Configuration not found")
		return
	}
	v.mu.Lock()
	delete(v.accounts, a.ConfigurationID)
	for tok, cfg := range v.tokens {
		if cfg == a.ConfigurationID {
			delete(v.tokens, tok)
		}
	}
	for id, hook := range v.webhooks {
		if hook.ConfigurationID == a.ConfigurationID {
			delete(v.webhooks, id)
		}
	}
	v.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
