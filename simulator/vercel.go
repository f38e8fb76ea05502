package simulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
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
// integration configuration, which ends its tokens and webhooks, and, once
// SeedHistory has run, the projects' deployments (see SeedHistory). Team
// tokens need ?teamId=. Errors use Vercel's {"error":{code,message}}; a
// token Vercel does not know is refused as Vercel does, 403 with
// "invalidToken": true.
//
// Calls and FailNext name its endpoints exchange, list_projects,
// create_webhook, delete_webhook, remove_configuration, get_configuration
// and list-deployments. SetRateLimit, RateLimitNext and DelayNext apply to the
// endpoints authenticated with a token (all but exchange); every answer of
// those carries X-RateLimit-Limit, -Remaining and -Reset (a Unix time in
// seconds), and past the limit Vercel answers 429 rate_limited.
type Vercel struct {
	calls
	apiLimits
	ClientID, ClientSecret, Slug string

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*VercelAccount // by configuration id
	codes    map[string]vercelCode
	tokens   map[string]string // token → configuration id
	webhooks map[string]VercelAPIWebhook
	perPage  int
	history  map[string][]*vercelDeployment // by project id, newest first, from SeedHistory
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
	mux.HandleFunc("GET /v6/deployments", v.authed("list-deployments", v.listDeployments))
	mux.HandleFunc("GET /v1/integrations/configuration/{id}", v.authed("get_configuration", v.getConfiguration))
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

// vercelRateHeaders are Vercel's rate-limit headers; past the limit it
// answers 429 with its rate_limited error.
var vercelRateHeaders = rateHeaders{limit: "X-RateLimit-Limit", remaining: "X-RateLimit-Remaining", reset: "X-RateLimit-Reset",
	status: http.StatusTooManyRequests, body: `{"error":{"code":"rate_limited","message":"Rate limit exceeded"}}`}

// rateHeaders writes the fixed budget answers carry while no SetRateLimit
// is in force (admit overwrites them when one is).
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

// authed counts the call, answers an injected failure, applies the rate
// limit, and checks the bearer token and, for a team's token, ?teamId=.
func (v *Vercel) authed(endpoint string, h func(http.ResponseWriter, *http.Request, *VercelAccount, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v.rateHeaders(w)
		if status := v.take(endpoint); status != 0 {
			vercelErr(w, status, "internal_server_error", "Injected failure")
			return
		}
		if !v.admit(w, r, endpoint, vercelRateHeaders) {
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		v.mu.Lock()
		cfg, ok := v.tokens[tok]
		a := v.accounts[cfg]
		v.mu.Unlock()
		if !ok || a == nil {
			// Vercel refuses an unknown, expired or revoked token with 403,
			// telling it apart from other refusals by invalidToken.
			writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{"code": "forbidden",
				"message": "Not authorized", "invalidToken": true}})
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

// vercelDeployment is one seeded deployment: what the list endpoint filters
// and sorts on, and its JSON, rendered once at seed time so that answering a
// page is a copy.
type vercelDeployment struct {
	uid     string
	created int64 // ms
	json    []byte
}

// SeedHistory generates perResource deployments for every project of every
// account, created at times spread evenly over [now-span, now) on the
// simulator's clock, rounded up to the millisecond (Vercel's precision);
// the k-th project of an account is shifted k ms later, so that an
// account's deployments have distinct times (when span/perResource is more
// than the account's number of projects in ms) and until-pagination over
// several projects loses none. Most are READY, one in eight ERROR and one
// in eight CANCELED; the newest is QUEUED and the one before it BUILDING.
// One in three targets production, the others are previews (target null).
//
// They are served by GET /v6/deployments with projectId (a project's id or
// name; without it, every project of the account), since (ms, inclusive),
// until (ms, exclusive) and limit (1 to 100, default 20), newest first, in
// {"deployments":[…],"pagination":{count,next,prev}}: next is the created
// of the page's last deployment when more match (passed back as until),
// else null; prev is the created of the page's first deployment when newer
// ones match, else null. A project the account does not have is 404, a bad
// parameter 400; other parameters are ignored.
//
// SeedHistory replaces earlier history; projects added later have none.
// perResource or span ≤ 0 clears it.
func (v *Vercel) SeedHistory(perResource int, span time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.history = map[string][]*vercelDeployment{}
	if perResource <= 0 || span <= 0 {
		return
	}
	now := v.now()
	start, step := now.Add(-span), span/time.Duration(perResource)
	for _, cfg := range slices.Sorted(maps.Keys(v.accounts)) {
		a := v.accounts[cfg]
		for k, p := range a.Projects {
			if v.history[p.ID] != nil {
				continue
			}
			deps := make([]*vercelDeployment, perResource)
			for i := range perResource {
				created := ceilTo(start.Add(step*time.Duration(i)), time.Millisecond).UnixMilli() + int64(k)
				d := &vercelDeployment{uid: vercelUID(cfg + "/" + p.ID + "/" + strconv.Itoa(i)), created: created}
				d.json = mustJSON(v.deploymentBody(a, p, d, i, perResource))
				deps[perResource-1-i] = d // newest first
			}
			v.history[p.ID] = deps
		}
	}
}

// History returns what SeedHistory generated for the project with id
// resourceID and entity "deployments", oldest first: the deployments' uids
// and created times. It is nil for anything else.
func (v *Vercel) History(resourceID, entity string) []HistoryItem {
	v.mu.Lock()
	defer v.mu.Unlock()
	deps := v.history[resourceID]
	if entity != "deployments" || deps == nil {
		return nil
	}
	out := make([]HistoryItem, 0, len(deps))
	for i := len(deps) - 1; i >= 0; i-- {
		out = append(out, HistoryItem{ID: deps[i].uid, UpdatedAt: time.UnixMilli(deps[i].created).UTC()})
	}
	return out
}

// vercelUID derives a deployment uid ("dpl_" and 28 letters and digits,
// Vercel's shape) from seed, so that a seeding is reproducible.
func vercelUID(seed string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(seed))
	b := make([]byte, 28)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return "dpl_" + string(b)
}

type (
	vercelDeploymentJSON struct {
		UID                 string            `json:"uid"`
		Name                string            `json:"name"`
		URL                 string            `json:"url"`
		Created             int64             `json:"created"`
		Source              string            `json:"source"`
		State               string            `json:"state"`
		ReadyState          string            `json:"readyState"`
		Type                string            `json:"type"`
		Creator             vercelCreatorJSON `json:"creator"`
		InspectorURL        string            `json:"inspectorUrl"`
		Meta                map[string]string `json:"meta"`
		Target              *string           `json:"target"`
		AliasError          any               `json:"aliasError"`
		AliasAssigned       *int64            `json:"aliasAssigned"`
		IsRollbackCandidate bool              `json:"isRollbackCandidate"`
		CreatedAt           int64             `json:"createdAt"`
		BuildingAt          *int64            `json:"buildingAt,omitempty"`
		Ready               *int64            `json:"ready,omitempty"`
		ProjectID           string            `json:"projectId"`
	}
	vercelCreatorJSON struct {
		UID         string `json:"uid"`
		Email       string `json:"email"`
		Username    string `json:"username"`
		GithubLogin string `json:"githubLogin"`
	}
)

// deploymentBody is the list-endpoint JSON of deployment number i (oldest
// first) of n of project p, fields in Vercel's order.
func (v *Vercel) deploymentBody(a *VercelAccount, p VercelProject, d *vercelDeployment, i, n int) vercelDeploymentJSON {
	state := "READY"
	switch {
	case i == n-1:
		state = "QUEUED"
	case i == n-2:
		state = "BUILDING"
	case i%8 == 3:
		state = "ERROR"
	case i%8 == 6:
		state = "CANCELED"
	}
	name := strings.ToLower(cmp.Or(p.Name, p.ID))
	scope := cmp.Or(a.TeamID, a.UserID)
	sha := sha256.Sum256([]byte(d.uid))
	ref := "feature/change-" + strconv.Itoa(i)
	var target *string
	if i%3 == 0 {
		prod := "production"
		target, ref = &prod, "main"
	}
	j := vercelDeploymentJSON{UID: d.uid, Name: name, URL: name + "-" + strings.ToLower(d.uid[4:13]) + "-" + strings.ToLower(scope) + ".vercel.app",
		Created: d.created, Source: "git", State: state, ReadyState: state, Type: "LAMBDAS",
		Creator:      vercelCreatorJSON{UID: a.UserID, Email: "dev@example.com", Username: "dev", GithubLogin: "dev"},
		InspectorURL: "https://vercel.com/" + scope + "/" + name + "/" + d.uid[4:],
		Meta: map[string]string{"githubCommitRef": ref, "githubCommitSha": hex.EncodeToString(sha[:20]),
			"githubCommitMessage": "Change " + strconv.Itoa(i), "githubOrg": "acme", "githubRepo": name},
		Target: target, CreatedAt: d.created, ProjectID: p.ID}
	if state != "QUEUED" {
		building := d.created + int64(2000+i%7*1000)
		j.BuildingAt = &building
	}
	if state == "READY" || state == "ERROR" || state == "CANCELED" {
		ready := *j.BuildingAt + int64(30000+i%11*9000)
		j.Ready = &ready
		if state == "READY" {
			j.AliasAssigned, j.IsRollbackCandidate = &ready, target != nil
		}
	}
	return j
}

// listDeployments serves GET /v6/deployments (see SeedHistory).
func (v *Vercel) listDeployments(w http.ResponseWriter, r *http.Request, a *VercelAccount, _ string) {
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			vercelErr(w, http.StatusBadRequest, "bad_request", "Invalid request: `limit` should be between 1 and 100")
			return
		}
		limit = n
	}
	var bounds [2]int64 // since, until
	var has [2]bool
	for k, name := range []string{"since", "until"} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				vercelErr(w, http.StatusBadRequest, "bad_request", "Invalid request: `"+name+"` should be a number")
				return
			}
			bounds[k], has[k] = n, true
		}
	}
	var items []*vercelDeployment
	v.mu.Lock()
	if pid := q.Get("projectId"); pid != "" {
		i := slices.IndexFunc(a.Projects, func(p VercelProject) bool { return p.ID == pid || p.Name == pid })
		if i < 0 {
			v.mu.Unlock()
			vercelErr(w, http.StatusNotFound, "not_found", "Project not found")
			return
		}
		items = v.history[a.Projects[i].ID] // never modified once seeded
	} else {
		for _, p := range a.Projects {
			items = append(items, v.history[p.ID]...)
		}
		slices.SortStableFunc(items, func(x, y *vercelDeployment) int {
			return cmp.Or(cmp.Compare(y.created, x.created), cmp.Compare(y.uid, x.uid))
		})
	}
	v.mu.Unlock()

	// Newest first: the page starts at the first deployment created before
	// until, and the matching ones end at the first created before since.
	lo, hi := 0, len(items)
	if has[1] {
		lo = sort.Search(len(items), func(i int) bool { return items[i].created < bounds[1] })
	}
	if has[0] {
		hi = max(lo, sort.Search(len(items), func(i int) bool { return items[i].created < bounds[0] }))
	}
	page := items[lo:min(lo+limit, hi)]
	var next, prev any
	if len(page) > 0 && lo+len(page) < hi {
		next = page[len(page)-1].created
	}
	if len(page) > 0 && lo > 0 {
		prev = page[0].created
	}

	body := []byte(`{"deployments":[`)
	for i, d := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, d.json...)
	}
	body = append(body, `],"pagination":`...)
	body = append(body, mustJSON(map[string]any{"count": len(page), "next": next, "prev": prev})...)
	body = append(body, "}\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// --- Lifecycle: reading and removing a configuration. ---

// RemoveConfiguration plays the account removing the integration in
// Vercel's dashboard: the configuration, its tokens and its webhooks are
// gone (a token of it is then refused with 403).
func (v *Vercel) RemoveConfiguration(configurationID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.accounts, configurationID)
	for tok, cfg := range v.tokens {
		if cfg == configurationID {
			delete(v.tokens, tok)
		}
	}
	for id, hook := range v.webhooks {
		if hook.ConfigurationID == configurationID {
			delete(v.webhooks, id)
		}
	}
}

// getConfiguration is GET /v1/integrations/configuration/{id}: the
// configuration the token belongs to (another id is 404).
func (v *Vercel) getConfiguration(w http.ResponseWriter, r *http.Request, a *VercelAccount, _ string) {
	if r.PathValue("id") != a.ConfigurationID {
		vercelErr(w, http.StatusNotFound, "not_found", "Configuration not found")
		return
	}
	out := map[string]any{"id": a.ConfigurationID, "integrationId": "oac_" + v.Slug, "ownerId": cmp.Or(a.TeamID, a.UserID),
		"userId": a.UserID, "teamId": nil, "slug": v.Slug, "projectSelection": "all", "status": "ready"}
	if a.TeamID != "" {
		out["teamId"] = a.TeamID
	}
	writeJSON(w, http.StatusOK, out)
}
