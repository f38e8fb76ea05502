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
// single-use code exchange (form-encoded, long-lived tokens), projects
// paginated with Vercel's {count, next, prev} object, webhooks created and
// deleted through the API (each with its generated secret), and removing
// the integration configuration. Errors use Vercel's {"error":{code,message}}.
// Calls and FailNext name its endpoints exchange, list_projects,
// create_webhook, delete_webhook and remove_configuration.
type Vercel struct {
	calls
	ClientID, ClientSecret, Slug string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*VercelAccount // by configuration id
	codes    map[string]string         // code → configuration id
	tokens   map[string]string         // token → configuration id
	webhooks map[string]VercelAPIWebhook
	perPage  int
}

// VercelAccount is an installation of the integration (a configuration) on
// a team or a personal account.
type VercelAccount struct {
	ConfigurationID, TeamID, UserID string
	Projects                        []VercelProject
}

// VercelProject is a project of the account.
type VercelProject struct{ ID, Name string }

// VercelAPIWebhook is a webhook created through the API.
type VercelAPIWebhook struct {
	ID, ConfigurationID, URL, Secret string
	Events                           []string
}

// NewVercel starts a Vercel simulator. now may be nil.
func NewVercel(now func() time.Time) *Vercel {
	if now == nil {
		now = time.Now
	}
	v := &Vercel{ClientID: "oac_client", ClientSecret: "vercel-secret-" + randomHex(8), Slug: "relay-test", now: now,
		accounts: map[string]*VercelAccount{}, codes: map[string]string{}, tokens: map[string]string{},
		webhooks: map[string]VercelAPIWebhook{}, perPage: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /integrations/{slug}/new", func(w http.ResponseWriter, r *http.Request) {
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

// URL serves the web and API paths.
func (v *Vercel) URL() string { return v.srv.URL }

// Close stops the simulator.
func (v *Vercel) Close() { v.srv.Close() }

// AddAccount makes an installation exist.
func (v *Vercel) AddAccount(a VercelAccount) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.accounts[a.ConfigurationID] = &a
}

// Webhooks returns the webhooks created through the API.
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

// InstallRedirect plays the install of configurationID: it issues a code
// and returns the redirect URL with code, configurationId, teamId (team
// installs), next and state.
func (v *Vercel) InstallRedirect(redirectURL, state, configurationID string) string {
	code := "vercel-code-" + randomHex(10)
	v.mu.Lock()
	v.codes[code] = configurationID
	team := ""
	if a := v.accounts[configurationID]; a != nil {
		team = a.TeamID
	}
	v.mu.Unlock()
	q := url.Values{"code": {code}, "configurationId": {configurationID}, "next": {"https://vercel.com/dashboard"}, "state": {state}}
	if team != "" {
		q.Set("teamId", team)
	}
	return redirectURL + "?" + q.Encode()
}

func vercelErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
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
	cfg, ok := v.codes[r.PostForm.Get("code")]
	delete(v.codes, r.PostForm.Get("code"))
	a := v.accounts[cfg]
	if !ok || a == nil {
		vercelErr(w, http.StatusBadRequest, "invalid_grant", "Code is invalid or was already used")
		return
	}
	tok := "vca_" + randomHex(16)
	v.tokens[tok] = cfg
	out := map[string]any{"access_token": tok, "token_type": "Bearer", "installation_id": "icfg_" + cfg, "user_id": a.UserID}
	if a.TeamID != "" {
		out["team_id"] = a.TeamID
	} else {
		out["team_id"] = nil
	}
	writeJSON(w, http.StatusOK, out)
}

func (v *Vercel) authed(endpoint string, h func(http.ResponseWriter, *http.Request, *VercelAccount)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if status := v.take(endpoint); status != 0 {
			vercelErr(w, status, "internal_server_error", "Injected failure")
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
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
		h(w, r, a)
	}
}

func (v *Vercel) listProjects(w http.ResponseWriter, r *http.Request, a *VercelAccount) {
	start := 0
	if u := r.URL.Query().Get("until"); u != "" {
		start, _ = strconv.Atoi(u) // the simulator's "timestamps" are offsets
	}
	v.mu.Lock()
	per := v.perPage
	v.mu.Unlock()
	start = min(start, len(a.Projects))
	end := min(start+per, len(a.Projects))
	items := []map[string]any{}
	for _, p := range a.Projects[start:end] {
		items = append(items, map[string]any{"id": p.ID, "name": p.Name, "updatedAt": 1715702882110})
	}
	var next any
	if end < len(a.Projects) {
		next = end
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": items,
		"pagination": map[string]any{"count": len(items), "next": next, "prev": nil}})
}

func (v *Vercel) createWebhook(w http.ResponseWriter, r *http.Request, a *VercelAccount) {
	var in struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.URL == "" || len(in.Events) == 0 {
		vercelErr(w, http.StatusBadRequest, "bad_request", "url and events are required")
		return
	}
	hook := VercelAPIWebhook{ID: "hook_" + randomHex(8), ConfigurationID: a.ConfigurationID, URL: in.URL,
		Secret: randomHex(12), Events: in.Events}
	v.mu.Lock()
	v.webhooks[hook.ID] = hook
	v.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": hook.ID, "url": hook.URL, "events": hook.Events, "secret": hook.Secret,
		"ownerId": a.TeamID, "createdAt": v.now().UnixMilli()})
}

func (v *Vercel) deleteWebhook(w http.ResponseWriter, r *http.Request, a *VercelAccount) {
	v.mu.Lock()
	hook, ok := v.webhooks[r.PathValue("id")]
	if ok && hook.ConfigurationID == a.ConfigurationID {
		delete(v.webhooks, hook.ID)
	}
	v.mu.Unlock()
	if !ok || hook.ConfigurationID != a.ConfigurationID {
		vercelErr(w, http.StatusNotFound, "not_found", "Webhook not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (v *Vercel) removeConfiguration(w http.ResponseWriter, r *http.Request, a *VercelAccount) {
	if r.PathValue("id") != a.ConfigurationID {
		vercelErr(w, http.StatusNotFound, "not_found", "Configuration not found")
		return
	}
	v.mu.Lock()
	for tok, cfg := range v.tokens {
		if cfg == a.ConfigurationID {
			delete(v.tokens, tok)
		}
	}
	v.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
