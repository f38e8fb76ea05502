package persona

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// Client defaults.
const (
	DefaultAPIURL     = "https://withpersona.com"
	DefaultAPIVersion = "2023-01-05"
	// DefaultEmailField is the account field an email is searched by.
	DefaultEmailField = "email-address"
)

// Paging bounds: Persona pages hold at most 100 resources; a reference id
// or email naming more than maxPages pages of accounts is already
// ambiguous, so the rest is not fetched.
const (
	pageSize = 100
	maxPages = 10
)

// ClientConfig configures the accounts API client.
type ClientConfig struct {
	// APIURL is Persona's API origin, without /api/v1 (default
	// DefaultAPIURL).
	APIURL string
	// APIKey is the organization's API key, sent as a bearer token.
	APIKey string
	// APIVersion is sent as Persona-Version (default DefaultAPIVersion), so
	// the answers' shape does not change with the organization's default.
	APIVersion string
	// HTTPClient makes every call; default a plain client (each attempt has
	// its own Timeout). Calls also end with the caller's context.
	HTTPClient *http.Client
	// Timeout bounds each attempt (default 20 s) and Attempts the tries in
	// all for a retryable failure (default 3).
	Timeout  time.Duration
	Attempts int
	// EmailField is the account field SearchAccountsByEmail searches and
	// Account.Email is read from (default DefaultEmailField). Persona
	// searches an email only in a field marked searchable.
	EmailField string
	// Now is the clock rate-limit resets are computed with; default
	// time.Now.
	Now func() time.Time
}

// Account is a Persona account, as the accounts API returns it.
type Account struct {
	ID          string // "act_…", the webhook adapter's AccountID
	ReferenceID string // the team's own user or org id; "" when unset
	Email       string // fields[EmailField].value, else attributes["email-address"]
	CreatedAt   time.Time
}

// Client calls Persona's accounts API for resolvers. Every call goes
// through the shared provider HTTP client (per-attempt timeouts; retries on
// timeouts, 5xx and 429 honouring RateLimit-Reset; never on other 4xx). It
// is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	base *url.URL // nil when APIURL does not parse
	api  *httpjson.Client

	mu sync.Mutex
	rl relay.RateLimit
}

// NewClient returns a client for cfg. A missing API key or an APIURL that
// does not parse is reported by every call (EINVALID), not here.
func NewClient(cfg ClientConfig) *Client {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.EmailField == "" {
		cfg.EmailField = DefaultEmailField
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{cfg: cfg}
	if u, err := url.Parse(cfg.APIURL); err == nil && u.Scheme != "" && u.Host != "" {
		c.base = u
	}
	read := httpjson.EpochRateLimit("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", true)
	c.api = &httpjson.Client{HTTP: hc, Provider: "persona", Timeout: cfg.Timeout, Attempts: cfg.Attempts, Now: cfg.Now,
		RateLimit: func(h http.Header, now time.Time) relay.RateLimit {
			rl := read(h, now)
			if rl.Known {
				c.mu.Lock()
				c.rl = rl
				c.mu.Unlock()
			}
			return rl
		}}
	return c
}

// RateLimit returns what the latest answer that had Persona's rate-limit
// headers said (RateLimit-Limit, -Remaining, and -Reset, seconds until the
// window resets); Known is false before any such answer.
func (c *Client) RateLimit() relay.RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rl
}

// AccountsByReferenceID returns the accounts whose reference id is ref
// (GET /api/v1/accounts?filter[reference-id]=ref), following links.next
// for at most 10 pages of 100. Errors are *relay.Error naming the call and
// status: EINVALID for an empty ref, a missing API key or a 4xx,
// EUNAUTHORIZED for 401, ENOTFOUND for 404, EUNAVAILABLE for timeouts, 5xx,
// 429 (with RetryAt when Persona said when) and malformed answers.
func (c *Client) AccountsByReferenceID(ctx context.Context, ref string) ([]Account, error) {
	if ref == "" {
		return nil, relay.Errorf(relay.EINVALID, "persona: list accounts: empty reference id")
	}
	q := url.Values{"filter[reference-id]": {ref}, "page[size]": {"100"}}
	accts, err := c.pages(ctx, "list accounts", http.MethodGet, "/api/v1/accounts?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	// Keep only exact matches: should the filter ever be ignored (a renamed
	// parameter), Persona would answer with every account, and pairing one
	// of them would hand an org another team's events.
	out := accts[:0]
	for _, a := range accts {
		if a.ReferenceID == ref {
			out = append(out, a)
		}
	}
	return out, nil
}

// emailQuery is the search body for accounts whose EmailField equals email.
// UNCONFIRMED: the grammar of POST /api/v1/accounts/search is not
// documented (docs/providers.md); this is its one definition.
func emailQuery(field, email string) any {
	return map[string]any{"query": map[string]any{
		"attribute": "fields." + field,
		"operator":  "eq",
		"value":     email,
	}}
}

// SearchAccountsByEmail returns the accounts whose EmailField is email (POST
// /api/v1/accounts/search), following links.next for at most 10 pages.
// Persona's search is eventually consistent (about a minute), so an account
// just created may be missing. Accounts whose email Persona returns and
// that differs from email (case-insensitively) are dropped. Errors are as
// for AccountsByReferenceID (EINVALID for an empty email).
func (c *Client) SearchAccountsByEmail(ctx context.Context, email string) ([]Account, error) {
	if email == "" {
		return nil, relay.Errorf(relay.EINVALID, "persona: search accounts: empty email")
	}
	accts, err := c.pages(ctx, "search accounts", http.MethodPost, "/api/v1/accounts/search", emailQuery(c.cfg.EmailField, email))
	if err != nil {
		return nil, err
	}
	out := accts[:0]
	for _, a := range accts {
		if a.Email == "" || strings.EqualFold(a.Email, email) {
			out = append(out, a)
		}
	}
	return out, nil
}

// accountsDoc is a JSON:API page of accounts.
type accountsDoc struct {
	Data []struct {
		ID         string                     `json:"id"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	} `json:"data"`
	Links struct {
		Next str `json:"next"`
	} `json:"links"`
}

// pages calls path and then each links.next (same method and body) for at
// most maxPages pages, de-duplicating accounts by id.
func (c *Client) pages(ctx context.Context, what, method, path string, body any) ([]Account, error) {
	if c.cfg.APIKey == "" {
		return nil, relay.Errorf(relay.EINVALID, "persona: %s: no API key configured", what)
	}
	if c.base == nil {
		return nil, relay.Errorf(relay.EINVALID, "persona: %s: API URL is not a valid URL", what)
	}
	var out []Account
	seen := map[string]bool{}
	next, err := c.resolve(what, path)
	if err != nil {
		return nil, err
	}
	for page := 0; next != "" && page < maxPages; page++ {
		var doc accountsDoc
		if err := c.do(ctx, what, method, next, body, &doc); err != nil {
			return nil, err
		}
		for _, d := range doc.Data {
			if d.ID == "" || seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			out = append(out, c.account(d.ID, d.Attributes))
		}
		if doc.Links.Next == "" || len(doc.Data) == 0 {
			break
		}
		u, err := c.resolve(what, string(doc.Links.Next))
		if err != nil {
			return nil, err
		}
		if u == next {
			break // a link to itself would loop
		}
		next = u
	}
	return out, nil
}

// resolve makes a link (Persona's are relative paths) absolute against
// APIURL, refusing one to another origin: the API key must not follow it.
func (c *Client) resolve(what, link string) (string, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return "", relay.Errorf(relay.EUNAVAILABLE, "persona: %s: malformed next link", what)
	}
	if ref.Scheme == "" && ref.Host == "" && strings.HasPrefix(ref.Path, "/") {
		ref.Path = c.base.Path + ref.Path // keep a path prefix of APIURL
		ref.RawPath = ""
	}
	u := c.base.ResolveReference(ref)
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", relay.Errorf(relay.EUNAVAILABLE, "persona: %s: next link leaves the API origin", what)
	}
	return u.String(), nil
}

// do makes one logical call, mapping a final 404 to ENOTFOUND.
func (c *Client) do(ctx context.Context, what, method, u string, body, out any) error {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.cfg.APIKey)
	h.Set("Persona-Version", c.cfg.APIVersion)
	// Pin kebab-case keys, which the parser reads, whatever the
	// organization's default inflection.
	h.Set("Key-Inflection", "kebab")
	resp, err := c.api.Do(ctx, &httpjson.Request{Method: method, URL: u, What: what, Header: h, Body: body, Out: out})
	if err != nil && resp != nil && resp.Status == http.StatusNotFound {
		return relay.Errorf(relay.ENOTFOUND, "persona: %s: HTTP 404", what)
	}
	return err
}

// account converts one JSON:API account resource.
func (c *Client) account(id string, attrs map[string]json.RawMessage) Account {
	a := Account{ID: id, ReferenceID: jsonString(attrs["reference-id"])}
	if t, err := time.Parse(time.RFC3339Nano, jsonString(attrs["created-at"])); err == nil {
		a.CreatedAt = t.UTC()
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(attrs["fields"], &fields) == nil {
		a.Email = fieldValue(fields[c.cfg.EmailField])
	}
	if a.Email == "" {
		a.Email = jsonString(attrs["email-address"])
	}
	return a
}

// fieldValue reads an account field, {"type": …, "value": "…"}, or a bare
// string; "" for anything else.
func fieldValue(raw json.RawMessage) string {
	if s := jsonString(raw); s != "" {
		return s
	}
	var f struct {
		Value str `json:"value"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return ""
	}
	return string(f.Value)
}

// jsonString is raw as a string when it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	var s str
	if len(raw) == 0 || s.UnmarshalJSON(raw) != nil {
		return ""
	}
	return string(s)
}
