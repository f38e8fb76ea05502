package simulator

import (
	"cmp"
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
)

// Sentry simulates a Sentry public integration's API, following
// docs/providers.md: the external install page, the installation's
// authorizations endpoint (single-use codes; tokens lasting 8 h by default;
// refresh tokens rotated on every use, the previous one then refused), the
// installation, and an organization's projects paginated two per page with
// Sentry's Link cursors (rel="previous"/"next" with results="true|false"),
// with X-Sentry-Rate-Limit-* headers and {"detail": …} errors, and, once
// SeedHistory has run, the projects' issues (see SeedHistory).
//
// A refresh rewrites the installation's token in place, as Sentry's
// ApiToken.refresh does: the previous access token stops working too.
//
// Calls and FailNext name its endpoints token_code, token_refresh,
// get_installation, list_projects and list-issues. SetRateLimit,
// RateLimitNext and DelayNext apply to the endpoints authenticated with an
// access token; past the limit Sentry answers 429.
type Sentry struct {
	calls
	apiLimits
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
	history  map[string]*sentryProjectHistory // by project id, from SeedHistory
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
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/issues/", s.authed("list-issues", s.listIssues))
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

// sentryRateHeaders are Sentry's rate-limit headers; past the limit it
// answers 429.
var sentryRateHeaders = rateHeaders{limit: "X-Sentry-Rate-Limit-Limit", remaining: "X-Sentry-Rate-Limit-Remaining",
	reset: "X-Sentry-Rate-Limit-Reset", status: http.StatusTooManyRequests}

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
		if !s.admit(w, r, endpoint, sentryRateHeaders) {
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

// sentryIssue is one seeded issue: what the issues endpoint filters and
// sorts on, and its JSON, rendered once at seed time so that answering a
// page is a copy.
type sentryIssue struct {
	id                  int64
	status              string // unresolved | resolved | ignored
	title               string
	firstSeen, lastSeen time.Time
	count               int64
	json                []byte
}

// sentryProjectHistory is one project's seeded issues in each order the
// issues endpoint sorts by (highest first), and what History returns.
type sentryProjectHistory struct {
	byLastSeen, byFirstSeen, byCount []*sentryIssue
	history                          []HistoryItem
}

// SeedHistory generates perResource issues for every project of every
// installation, their lastSeen spread evenly over [now-span, now) on the
// simulator's clock (rounded up to the microsecond, Sentry's precision),
// first seen 6 to 54 hours before; one issue in four is resolved and one in
// four ignored, the others unresolved.
//
// They are served by GET /api/0/projects/{org}/{project}/issues/ with
// query (is:unresolved|resolved|ignored|archived, lastSeen: and firstSeen:
// with >=, >, <= or < and an ISO 8601 time or a relative -24h/+7d, and free
// text matched against titles; is:unresolved when the parameter is absent,
// as on Sentry), sort date (lastSeen, the default), new (firstSeen) or
// freq (count), all newest or highest first, and limit (default and at
// most 100). Pages are linked with Sentry's cursors "<score>:<offset>:<is
// previous>" (score in milliseconds, or the count for freq) in a Link
// header with rel="previous" and rel="next", each with results="true|false";
// X-Hits is the number of matching issues. A project the installation's
// organization does not have is 404, another organization 403, a bad
// parameter 400.
//
// SeedHistory replaces earlier history; projects added later have none.
// perResource or span ≤ 0 clears it.
func (s *Sentry) SeedHistory(perResource int, span time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = map[string]*sentryProjectHistory{}
	if perResource <= 0 || span <= 0 {
		return
	}
	now := s.now()
	start, step := now.Add(-span), span/time.Duration(perResource)
	next := int64(4_000_000_000)
	for _, uuid := range slices.Sorted(maps.Keys(s.installs)) {
		in := s.installs[uuid]
		for _, p := range in.Projects {
			if s.history[p.ID] != nil {
				continue
			}
			h := &sentryProjectHistory{}
			for i := range perResource {
				next++
				it := &sentryIssue{id: next, status: "unresolved", lastSeen: ceilTo(start.Add(step*time.Duration(i)), time.Microsecond),
					count: int64(i*37%500 + 1)}
				e := sentryErrors[i%len(sentryErrors)]
				it.title = e.typ + ": " + e.value
				it.firstSeen = it.lastSeen.Add(-time.Duration(i%9+1) * 6 * time.Hour)
				switch i % 4 {
				case 1:
					it.status = "resolved"
				case 3:
					it.status = "ignored"
				}
				it.json = mustJSON(s.issueBody(in.OrgSlug, p, it, i))
				h.byLastSeen = append(h.byLastSeen, it)
				h.history = append(h.history, HistoryItem{ID: strconv.FormatInt(it.id, 10), UpdatedAt: it.lastSeen})
			}
			desc := func(key func(*sentryIssue) int64) []*sentryIssue {
				return slices.SortedStableFunc(slices.Values(h.byLastSeen), func(a, b *sentryIssue) int {
					return cmp.Or(cmp.Compare(key(b), key(a)), cmp.Compare(b.id, a.id))
				})
			}
			h.byFirstSeen = desc(sentryScores["new"])
			h.byCount = desc(sentryScores["freq"])
			h.byLastSeen = desc(sentryScores["date"])
			s.history[p.ID] = h
		}
	}
}

// History returns what SeedHistory generated for the project with id
// resourceID and entity "issues", oldest first: the issues' ids and
// lastSeen. It is nil for anything else.
func (s *Sentry) History(resourceID, entity string) []HistoryItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.history[resourceID]; h != nil && entity == "issues" {
		return slices.Clone(h.history)
	}
	return nil
}

// sentryScores are the issue sorts' keys, which cursors carry.
var sentryScores = map[string]func(*sentryIssue) int64{
	"date": func(it *sentryIssue) int64 { return it.lastSeen.UnixMilli() },
	"new":  func(it *sentryIssue) int64 { return it.firstSeen.UnixMilli() },
	"freq": func(it *sentryIssue) int64 { return it.count },
}

var sentryErrors = []struct{ typ, value, culprit, file, function string }{
	{"ZeroDivisionError", "division by zero", "billing.invoice in compute_total", "billing/invoice.py", "compute_total"},
	{"KeyError", "'customer_id'", "api.handlers in create_order", "api/handlers.py", "create_order"},
	{"TimeoutError", "upstream request timed out", "clients.http in send", "clients/http.py", "send"},
	{"AttributeError", "'NoneType' object has no attribute 'email'", "accounts.views in profile", "accounts/views.py", "profile"},
}

type (
	sentryIssueJSON struct {
		ID                  string            `json:"id"`
		ShareID             *string           `json:"shareId"`
		ShortID             string            `json:"shortId"`
		Title               string            `json:"title"`
		Culprit             string            `json:"culprit"`
		Permalink           string            `json:"permalink"`
		Logger              *string           `json:"logger"`
		Level               string            `json:"level"`
		Status              string            `json:"status"`
		StatusDetails       struct{}          `json:"statusDetails"`
		Substatus           *string           `json:"substatus"`
		IsPublic            bool              `json:"isPublic"`
		Platform            string            `json:"platform"`
		Project             sentryProjectJSON `json:"project"`
		Type                string            `json:"type"`
		Metadata            sentryMetadata    `json:"metadata"`
		NumComments         int               `json:"numComments"`
		AssignedTo          any               `json:"assignedTo"`
		IsBookmarked        bool              `json:"isBookmarked"`
		IsSubscribed        bool              `json:"isSubscribed"`
		SubscriptionDetails any               `json:"subscriptionDetails"`
		HasSeen             bool              `json:"hasSeen"`
		Annotations         []any             `json:"annotations"`
		IssueType           string            `json:"issueType"`
		IssueCategory       string            `json:"issueCategory"`
		Priority            string            `json:"priority"`
		IsUnhandled         bool              `json:"isUnhandled"`
		Count               string            `json:"count"`
		UserCount           int64             `json:"userCount"`
		FirstSeen           string            `json:"firstSeen"`
		LastSeen            string            `json:"lastSeen"`
	}
	sentryProjectJSON struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Slug     string `json:"slug"`
		Platform string `json:"platform"`
	}
	sentryMetadata struct {
		Type     string `json:"type"`
		Value    string `json:"value"`
		Filename string `json:"filename"`
		Function string `json:"function"`
	}
)

// issueBody is the JSON of issue number i of project p, fields in Sentry's
// order.
func (s *Sentry) issueBody(org string, p SentryProject, it *sentryIssue, i int) sentryIssueJSON {
	e := sentryErrors[i%len(sentryErrors)]
	id := strconv.FormatInt(it.id, 10)
	v := sentryIssueJSON{ID: id, ShortID: strings.ToUpper(p.Slug + "-" + strconv.FormatInt(int64(i+1), 36)), Title: it.title,
		Culprit: e.culprit, Permalink: s.srv.URL + "/organizations/" + org + "/issues/" + id + "/", Level: "error",
		Status: it.status, Platform: "python", Project: sentryProjectJSON{ID: p.ID, Name: p.Slug, Slug: p.Slug, Platform: "python"},
		Type: "error", Metadata: sentryMetadata{Type: e.typ, Value: e.value, Filename: e.file, Function: e.function},
		Annotations: []any{}, IssueType: "error", IssueCategory: "error", Priority: "high", IsUnhandled: i%2 == 0,
		Count: strconv.FormatInt(it.count, 10), UserCount: it.count / 3,
		FirstSeen: it.firstSeen.UTC().Format(sentryTime), LastSeen: it.lastSeen.UTC().Format(sentryTime)}
	sub := map[string]string{"unresolved": "ongoing", "ignored": "archived_until_escalating"}[it.status]
	if sub != "" {
		v.Substatus = &sub
	}
	return v
}

// sentryTime is how Sentry writes times.
const sentryTime = "2006-01-02T15:04:05.000000Z"

// listIssues serves GET /api/0/projects/{org}/{project}/issues/.
func (s *Sentry) listIssues(w http.ResponseWriter, r *http.Request, inst string) {
	org, slug := r.PathValue("org"), r.PathValue("project")
	s.mu.Lock()
	in := s.installs[inst]
	var h *sentryProjectHistory
	found := false
	if in != nil && in.OrgSlug == org {
		for _, p := range in.Projects {
			if p.Slug == slug {
				found, h = true, s.history[p.ID]
				break
			}
		}
	}
	now := s.now()
	s.mu.Unlock()
	switch {
	case in == nil || in.OrgSlug != org:
		sentryErr(w, http.StatusForbidden, "You do not have permission to perform this action.")
		return
	case !found:
		sentryErr(w, http.StatusNotFound, "The requested resource does not exist")
		return
	case h == nil:
		h = &sentryProjectHistory{}
	}
	q := r.URL.Query()
	sort := cmp.Or(q.Get("sort"), "date")
	score := sentryScores[sort]
	if score == nil {
		sentryErr(w, http.StatusBadRequest, "Invalid sort")
		return
	}
	order := map[string][]*sentryIssue{"date": h.byLastSeen, "new": h.byFirstSeen, "freq": h.byCount}[sort]
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			sentryErr(w, http.StatusBadRequest, "Invalid limit")
			return
		}
		limit = min(n, 100)
	}
	query := "is:unresolved" // Sentry's default when there is no query at all
	if q.Has("query") {
		query = q.Get("query")
	}
	match, err := parseSentryQuery(query, now)
	if err != nil {
		sentryErr(w, http.StatusBadRequest, "Error parsing search query: "+err.Error())
		return
	}
	items := make([]*sentryIssue, 0, len(order))
	for _, it := range order {
		if match(it) {
			items = append(items, it)
		}
	}

	// A cursor "<score>:<offset>:<is previous>" names a position: past the
	// items scoring above score and offset of those scoring score.
	at := func(v int64) int { return sortSearch(items, func(it *sentryIssue) bool { return score(it) <= v }) }
	cursor := func(pos int) string {
		var v int64
		switch {
		case pos > 0:
			v = score(items[pos-1])
		case len(items) > 0:
			v = score(items[0])
		}
		return fmt.Sprintf("%d:%d", v, pos-at(v))
	}
	start, end := 0, min(limit, len(items))
	if c := q.Get("cursor"); c != "" {
		parts := strings.Split(c, ":")
		v, err1 := strconv.ParseInt(parts[0], 10, 64)
		off, err2 := strconv.Atoi(parts[min(1, len(parts)-1)])
		if len(parts) != 3 || err1 != nil || err2 != nil || off < 0 || (parts[2] != "0" && parts[2] != "1") {
			sentryErr(w, http.StatusBadRequest, "Invalid cursor parameter.")
			return
		}
		pos := min(at(v)+off, len(items))
		if parts[2] == "1" {
			start, end = max(0, pos-limit), pos
		} else {
			start, end = pos, min(pos+limit, len(items))
		}
	}
	link := func(c string) string {
		q.Set("cursor", c)
		return s.srv.URL + r.URL.EscapedPath() + "?" + q.Encode()
	}
	prev, next := cursor(start)+":1", cursor(end)+":0"
	w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="previous"; results="%t"; cursor="%s", <%s>; rel="next"; results="%t"; cursor="%s"`,
		link(prev), start > 0, prev, link(next), end < len(items), next))
	w.Header().Set("X-Hits", strconv.Itoa(len(items)))

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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// sortSearch returns the first index of items (ordered so that f turns
// true and stays true) where f is true, or len(items).
func sortSearch(items []*sentryIssue, f func(*sentryIssue) bool) int {
	lo, hi := 0, len(items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f(items[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// parseSentryQuery compiles the part of Sentry's issue search the
// simulator supports (see SeedHistory) into a predicate; terms are ANDed.
func parseSentryQuery(query string, now time.Time) (func(*sentryIssue) bool, error) {
	var terms []func(*sentryIssue) bool
	for _, tok := range strings.Fields(query) {
		key, val, ok := strings.Cut(tok, ":")
		if !ok {
			text := strings.ToLower(tok)
			terms = append(terms, func(it *sentryIssue) bool { return strings.Contains(strings.ToLower(it.title), text) })
			continue
		}
		switch key {
		case "is":
			status := map[string]string{"unresolved": "unresolved", "resolved": "resolved", "ignored": "ignored", "archived": "ignored"}[val]
			if status == "" {
				return nil, fmt.Errorf("invalid value %q for is", val)
			}
			terms = append(terms, func(it *sentryIssue) bool { return it.status == status })
		case "lastSeen", "firstSeen":
			cmpTime, err := parseSentryTimeFilter(val, now)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			if key == "lastSeen" {
				terms = append(terms, func(it *sentryIssue) bool { return cmpTime(it.lastSeen) })
			} else {
				terms = append(terms, func(it *sentryIssue) bool { return cmpTime(it.firstSeen) })
			}
		default:
			return nil, fmt.Errorf("unsupported key %q", key)
		}
	}
	return func(it *sentryIssue) bool {
		for _, t := range terms {
			if !t(it) {
				return false
			}
		}
		return true
	}, nil
}

// parseSentryTimeFilter reads ">=2026-04-01T00:00:00Z" (also >, <=, <; a
// time with or without zone, UTC when none, or a date) or a relative "-24h"
// (within the last 24 hours) / "+24h" (longer ago); units m, h, d, w.
func parseSentryTimeFilter(val string, now time.Time) (func(time.Time) bool, error) {
	if len(val) > 1 && (val[0] == '-' || val[0] == '+') {
		n, err := strconv.Atoi(val[1 : len(val)-1])
		unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[val[len(val)-1]]
		if err != nil || n < 0 || unit == 0 {
			return nil, fmt.Errorf("invalid relative time %q", val)
		}
		edge := now.Add(-time.Duration(n) * unit)
		if val[0] == '-' {
			return func(t time.Time) bool { return !t.Before(edge) }, nil
		}
		return func(t time.Time) bool { return !t.After(edge) }, nil
	}
	op := ""
	for _, o := range []string{">=", "<=", ">", "<"} {
		if strings.HasPrefix(val, o) {
			op, val = o, val[len(o):]
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("%q needs >=, >, <= or <", val)
	}
	var edge time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if edge, err = time.Parse(layout, val); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid time %q", val)
	}
	switch op {
	case ">=":
		return func(t time.Time) bool { return !t.Before(edge) }, nil
	case ">":
		return func(t time.Time) bool { return t.After(edge) }, nil
	case "<=":
		return func(t time.Time) bool { return !t.After(edge) }, nil
	}
	return func(t time.Time) bool { return t.Before(edge) }, nil
}
