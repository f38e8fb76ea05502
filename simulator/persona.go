package simulator

import (
	"crypto/sha256"
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
)

// Persona simulates Persona's accounts API and signs its webhooks, following
// docs/providers.md: GET /api/v1/accounts with filter[reference-id],
// page[size] (default 10, at most 100) and page[after] cursors, linked with
// JSON:API links.next (a relative path, null on the last page);
// POST /api/v1/accounts/search by the email field; bearer API-key auth;
// JSON:API {"errors":[{"title": …}]} errors; RateLimit-Limit/-Remaining/
// -Reset (seconds until reset) headers once SetRateLimit is on.
//
// Calls, FailNext, SetRateLimit, RateLimitNext and DelayNext name its
// endpoints list_accounts and search_accounts; past the limit it answers
// 429.
type Persona struct {
	calls
	apiLimits
	// APIKey is the organization's API key the endpoints require.
	APIKey string
	// WebhookSecret is the webhook's current signing secret (see
	// RotateSecret).
	WebhookSecret string

	srv *httptest.Server
	now func() time.Time

	mu         sync.Mutex
	previous   string // the secret being rotated out; "" when none
	accounts   []*personaAccount
	byID       map[string]*personaAccount
	emailField string
	searchLag  time.Duration
}

// PersonaAccount is an account in the simulated organization.
type PersonaAccount struct {
	ID          string // "act_…"; generated when ""
	ReferenceID string // the team's own id; "" for none
	Email       string // the email field's value; "" for none
}

type personaAccount struct {
	PersonaAccount
	created time.Time
}

// personaRateHeaders are Persona's rate-limit headers; the reset is in
// seconds from now.
var personaRateHeaders = rateHeaders{limit: "RateLimit-Limit", remaining: "RateLimit-Remaining", reset: "RateLimit-Reset",
	resetIsDelta: true, status: http.StatusTooManyRequests, body: `{"errors":[{"title":"Too many requests"}]}`}

// NewPersona starts a Persona simulator on now's clock (time.Now when nil),
// with a random API key and webhook secret. Close stops it.
func NewPersona(now func() time.Time) *Persona {
	if now == nil {
		now = time.Now
	}
	p := &Persona{APIKey: "persona_sandbox_" + randomHex(16), WebhookSecret: "wbhsec_" + randomHex(16), now: now,
		byID: map[string]*personaAccount{}, emailField: "email-address"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/accounts", p.authed("list_accounts", p.listAccounts))
	mux.HandleFunc("POST /api/v1/accounts/search", p.authed("search_accounts", p.searchAccounts))
	p.srv = httptest.NewServer(mux)
	return p
}

// URL is the API origin (the client's APIURL).
func (p *Persona) URL() string { return p.srv.URL }

// Close stops the simulator.
func (p *Persona) Close() { p.srv.Close() }

// AddAccount makes an account exist, created now on the simulator's clock,
// replacing one with the same id, and returns its id.
func (p *Persona) AddAccount(a PersonaAccount) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.ID == "" {
		a.ID = "act_" + randomHex(12)
	}
	acct := &personaAccount{PersonaAccount: a, created: p.now().UTC()}
	if old := p.byID[a.ID]; old != nil {
		*old = *acct
		return a.ID
	}
	p.byID[a.ID] = acct
	p.accounts = append(p.accounts, acct)
	return a.ID
}

// SetEmailField names the account field emails are kept in and searched by
// (default "email-address"): search accepts the attribute "fields.<name>".
func (p *Persona) SetEmailField(name string) {
	p.mu.Lock()
	p.emailField = name
	p.mu.Unlock()
}

// SetSearchLag makes search miss accounts created less than d ago on the
// simulator's clock, as Persona's eventually consistent search does
// (about a minute); default 0.
func (p *Persona) SetSearchLag(d time.Duration) {
	p.mu.Lock()
	p.searchLag = d
	p.mu.Unlock()
}

// RotateSecret starts a secret rotation: the current WebhookSecret is kept
// as the previous one, a fresh secret becomes WebhookSecret and is
// returned, and until EndRotation webhooks carry two signature sets, one
// per secret. It must not run concurrently with a direct read of
// WebhookSecret.
func (p *Persona) RotateSecret() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.previous = p.WebhookSecret
	p.WebhookSecret = "wbhsec_" + randomHex(16)
	return p.WebhookSecret
}

// EndRotation drops the previous secret: webhooks carry one signature set
// again, made with WebhookSecret.
func (p *Persona) EndRotation() {
	p.mu.Lock()
	p.previous = ""
	p.mu.Unlock()
}

// Webhook returns the headers of a first delivery of body signed at t; see
// WebhookAttempt.
func (p *Persona) Webhook(body []byte, t time.Time) http.Header { return p.WebhookAttempt(body, t, 1) }

// WebhookAttempt returns the headers Persona sends with body on delivery
// attempt n (1 for the first; Persona tries 5 times in all), signed at t:
// Persona-Signature "t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">" with
// WebhookSecret — preceded, space-separated, by a set made with the
// previous secret during a rotation — Persona-Webhook-Attempts-Made (n),
// Persona-Webhook-Attempts-Left (5-n) and Content-Type.
func (p *Persona) WebhookAttempt(body []byte, t time.Time, n int) http.Header {
	p.mu.Lock()
	cur, prev := p.WebhookSecret, p.previous
	p.mu.Unlock()
	stamp := strconv.FormatInt(t.Unix(), 10)
	set := func(secret string) string {
		msg := append([]byte(stamp+"."), body...)
		return "t=" + stamp + ",v1=" + hex.EncodeToString(mac(sha256.New, secret, msg))
	}
	sig := set(cur)
	if prev != "" {
		sig = set(prev) + " " + sig
	}
	h := http.Header{}
	h.Set("Persona-Signature", sig)
	h.Set("Persona-Webhook-Attempts-Made", strconv.Itoa(n))
	h.Set("Persona-Webhook-Attempts-Left", strconv.Itoa(max(0, 5-n)))
	h.Set("Content-Type", "application/json")
	return h
}

// personaPrefixes are the id prefixes and JSON:API types of the resources
// an event can carry, by the event name's first segment.
var personaPrefixes = map[string]struct{ prefix, typ string }{
	"account":      {"act_", "account"},
	"inquiry":      {"inq_", "inquiry"},
	"verification": {"ver_", "verification/government-id"},
	"report":       {"rep_", "report/watchlist"},
	"case":         {"case_", "case"},
	"transaction":  {"txn_", "transaction"},
	"document":     {"doc_", "document/generic"},
}

// personaStatuses are an inquiry's status after the events that set one.
var personaStatuses = map[string]string{"created": "created", "started": "pending", "completed": "completed",
	"approved": "approved", "declined": "declined", "failed": "failed", "expired": "expired", "marked-for-review": "needs_review"}

// nullable is s as a JSON string, or null when it is "".
func nullable(s string) string {
	if s == "" {
		return "null"
	}
	return q(s)
}

// PersonaEvent returns a Persona webhook body: an event (data.type "event")
// with id eventID and name (e.g. "inquiry.approved", "account.created"),
// whose payload.data is the resource the name's first segment names. An
// account event carries account accountID; any other carries a resource
// (an inquiry for "inquiry.*", its id derived from eventID) related to
// accountID, with that account under payload.included. Both carry
// attributes.reference-id = referenceID; "" gives null, as does "" for
// accountID in the relationship.
func PersonaEvent(eventID, name, accountID, referenceID string) []byte {
	const at = "2024-05-14T16:08:02.110Z"
	kind, action, _ := strings.Cut(name, ".")
	account := fmt.Sprintf(`{"type":"account","id":%s,"attributes":{"reference-id":%s,"account-type-name":"User","account-status":"Default","created-at":"2024-05-14T16:00:11.000Z","updated-at":%q,"redacted-at":null,"tags":[],"fields":{"name":{"type":"hash","value":{"first":{"type":"string","value":"Jane"},"middle":{"type":"string","value":null},"last":{"type":"string","value":"Doe"}}},"email-address":{"type":"string","value":null}}},"relationships":{"account-type":{"data":{"type":"account-type","id":"acttp_3ShsRUcB2tD6a8Wh1WmJ7LNT"}}}}`,
		nullable(accountID), nullable(referenceID), at)
	var data, included string
	if kind == "account" {
		data, included = account, "[]"
	} else {
		pt, ok := personaPrefixes[kind]
		if !ok {
			pt.prefix, pt.typ = kind[:min(3, len(kind))]+"_", kind
		}
		sum := sha256.Sum256([]byte(kind + "\x00" + eventID))
		rid := pt.prefix + hex.EncodeToString(sum[:12])
		status, ok := personaStatuses[action]
		if !ok {
			status = "completed"
		}
		rel := "null"
		included = "[]"
		if accountID != "" {
			rel = `{"type":"account","id":` + q(accountID) + `}`
			included = "[" + account + "]"
		}
		data = fmt.Sprintf(`{"type":%s,"id":%s,"attributes":{"status":%s,"reference-id":%s,"note":null,"behaviors":{"request-spoof-attempts":0,"user-agent-spoof-attempts":0,"distraction-events":0,"hesitation-percentage":12.4,"shortcut-copies":0,"shortcut-pastes":0,"autofill-cancels":0,"autofill-starts":0,"devtools-open":false,"completion-time":71.3,"bot-score":1},"tags":[],"creator":"API","reviewer-comment":null,"created-at":"2024-05-14T16:06:50.000Z","started-at":"2024-05-14T16:06:51.000Z","completed-at":%[5]q,"failed-at":null,"marked-for-review-at":null,"decisioned-at":%[5]q,"expired-at":null,"redacted-at":null,"previous-step-name":"verification_government_id","next-step-name":"success","name-first":"Jane","name-middle":null,"name-last":"Doe","birthdate":"1994-04-12","address-street-1":"123 Main St","address-street-2":null,"address-city":"San Francisco","address-subdivision":"California","address-postal-code":"94111","address-country-code":"US","email-address":null,"phone-number":null,"fields":{}},"relationships":{"account":{"data":%[6]s},"template":{"data":null},"inquiry-template":{"data":{"type":"inquiry-template","id":"itmpl_Ygs16MKTkA6obnF8C3Rb17dm"}},"inquiry-template-version":{"data":{"type":"inquiry-template-version","id":"itmplv_3kGy5D2E5VHBrX4VC9EWQcqs"}},"reviewer":{"data":null},"reports":{"data":[]},"verifications":{"data":[{"type":"verification/government-id","id":"ver_KnqQRXmxmtquRE65CHTzymhR"}]},"sessions":{"data":[{"type":"inquiry-session","id":"iqse_DLn2mWeNi4xMRRvhKN4Ek9jr"}]},"documents":{"data":[]},"selfies":{"data":[]}}}`,
			q(pt.typ), q(rid), q(status), nullable(referenceID), at, rel)
	}
	return fmt.Appendf(nil, `{"data":{"type":"event","id":%s,"attributes":{"name":%s,"payload":{"data":%s,"included":%s,"meta":{}},"created-at":%q,"redacted-at":null}}}`,
		q(eventID), q(name), data, included, at)
}

// personaErr answers a JSON:API error.
func personaErr(w http.ResponseWriter, status int, title string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"title": title}}})
}

// authed wraps an API endpoint: injected failures, delays and rate limits
// first, then the bearer API key.
func (p *Persona) authed(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if status := p.take(endpoint); status != 0 {
			personaErr(w, status, "Injected failure")
			return
		}
		if !p.admit(w, r, endpoint, personaRateHeaders) {
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok || tok != p.APIKey {
			personaErr(w, http.StatusUnauthorized, "Must be authenticated to access this endpoint")
			return
		}
		h(w, r)
	}
}

// listAccounts serves GET /api/v1/accounts.
func (p *Persona) listAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, filtered := q["filter[reference-id]"]
	p.page(w, r, func(a *personaAccount) bool { return !filtered || a.ReferenceID == ref[0] })
}

// searchAccounts serves POST /api/v1/accounts/search with a body
// {"query":{"attribute":"fields.<email field>"|"reference-id",
// "operator":"eq","value":…}}; emails match case-insensitively.
func (p *Persona) searchAccounts(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Query struct {
			Attribute string `json:"attribute"`
			Operator  string `json:"operator"`
			Value     string `json:"value"`
		} `json:"query"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		personaErr(w, http.StatusBadRequest, "Malformed request body")
		return
	}
	p.mu.Lock()
	field, lag, now := "fields."+p.emailField, p.searchLag, p.now()
	p.mu.Unlock()
	qy := in.Query
	switch {
	case qy.Operator != "eq":
		personaErr(w, http.StatusBadRequest, "Unsupported operator")
		return
	case qy.Attribute != field && qy.Attribute != "reference-id":
		personaErr(w, http.StatusBadRequest, "Unsupported attribute "+qy.Attribute)
		return
	}
	p.page(w, r, func(a *personaAccount) bool {
		if now.Sub(a.created) < lag {
			return false // not indexed yet
		}
		if qy.Attribute == "reference-id" {
			return a.ReferenceID == qy.Value
		}
		return a.Email != "" && strings.EqualFold(a.Email, qy.Value)
	})
}

// page answers one JSON:API page of the accounts match selects, in creation
// order, after the page[after] cursor (an account id), page[size] at a time.
func (p *Persona) page(w http.ResponseWriter, r *http.Request, match func(*personaAccount) bool) {
	q := r.URL.Query()
	size := 10
	if s := q.Get("page[size]"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			personaErr(w, http.StatusBadRequest, "page[size] must be between 1 and 100")
			return
		}
		size = n
	}
	after := q.Get("page[after]")
	p.mu.Lock()
	var items []any
	more := false
	passed := after == ""
	for _, a := range p.accounts {
		if !passed {
			passed = a.ID == after
			continue
		}
		if !match(a) {
			continue
		}
		if len(items) == size {
			more = true
			break
		}
		items = append(items, p.accountJSON(a))
	}
	p.mu.Unlock()
	if !passed {
		personaErr(w, http.StatusBadRequest, "Invalid page[after] cursor")
		return
	}
	var next any
	if more {
		last := items[len(items)-1].(personaAccountJSON).ID
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("page[after]", last)
		nq.Del("page[before]")
		next = r.URL.Path + "?" + nq.Encode()
	}
	var prev any
	if after != "" {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Del("page[after]")
		prev = r.URL.Path + "?" + pq.Encode()
	}
	if items == nil {
		items = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": items, "links": map[string]any{"prev": prev, "next": next}})
}

type (
	personaAccountJSON struct {
		Type       string                  `json:"type"`
		ID         string                  `json:"id"`
		Attributes personaAccountAttrsJSON `json:"attributes"`
	}
	personaAccountAttrsJSON struct {
		ReferenceID     *string                 `json:"reference-id"`
		AccountTypeName string                  `json:"account-type-name"`
		AccountStatus   string                  `json:"account-status"`
		CreatedAt       string                  `json:"created-at"`
		UpdatedAt       string                  `json:"updated-at"`
		RedactedAt      *string                 `json:"redacted-at"`
		Tags            []string                `json:"tags"`
		Fields          map[string]personaField `json:"fields"`
	}
	personaField struct {
		Type  string  `json:"type"`
		Value *string `json:"value"`
	}
)

// accountJSON renders an account as Persona's API does (kebab-case keys);
// the caller holds p.mu.
func (p *Persona) accountJSON(a *personaAccount) personaAccountJSON {
	ptr := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	stamp := a.created.Format("2006-01-02T15:04:05.000Z")
	return personaAccountJSON{Type: "account", ID: a.ID, Attributes: personaAccountAttrsJSON{
		ReferenceID: ptr(a.ReferenceID), AccountTypeName: "User", AccountStatus: "Default", CreatedAt: stamp, UpdatedAt: stamp,
		Tags: []string{}, Fields: map[string]personaField{p.emailField: {Type: "string", Value: ptr(a.Email)}}}}
}
