package persona_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/persona"
	"github.com/relayhq/relay/simulator"
)

func newClient(sim *simulator.Persona, mod ...func(*persona.ClientConfig)) *persona.Client {
	cfg := persona.ClientConfig{APIURL: sim.URL(), APIKey: sim.APIKey}
	for _, m := range mod {
		m(&cfg)
	}
	return persona.NewClient(cfg)
}

func ids(accts []persona.Account) []string {
	var out []string
	for _, a := range accts {
		out = append(out, a.ID)
	}
	return out
}

func TestAccountsByReferenceID(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	var want []string
	for i := range 230 {
		ref := "org-1"
		if i%2 == 1 {
			ref = "org-2"
		}
		id := sim.AddAccount(simulator.PersonaAccount{ID: fmt.Sprintf("act_%03d", i), ReferenceID: ref, Email: fmt.Sprintf("u%d@acme.test", i)})
		if ref == "org-1" {
			want = append(want, id)
		}
	}
	c := newClient(sim)
	got, err := c.AccountsByReferenceID(context.Background(), "org-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("got %d accounts %v…, want %d", len(got), ids(got)[:min(3, len(got))], len(want))
	}
	if sim.Calls("list_accounts") != 2 { // 115 accounts: pages of 100 and 15
		t.Fatalf("list calls %d", sim.Calls("list_accounts"))
	}
	if a := got[0]; a.ReferenceID != "org-1" || a.Email != "u0@acme.test" || a.CreatedAt.IsZero() {
		t.Fatalf("account %+v", a)
	}
	none, err := c.AccountsByReferenceID(context.Background(), "org-404")
	if err != nil || len(none) != 0 {
		t.Fatalf("no match: %v %v", none, err)
	}
	if _, err := c.AccountsByReferenceID(context.Background(), ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("empty ref: %v", err)
	}
}

func TestAccountsPageBound(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	for i := range 1050 {
		sim.AddAccount(simulator.PersonaAccount{ID: fmt.Sprintf("act_%04d", i), ReferenceID: "crowd"})
	}
	got, err := newClient(sim).AccountsByReferenceID(context.Background(), "crowd")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1000 || sim.Calls("list_accounts") != 10 {
		t.Fatalf("%d accounts in %d calls", len(got), sim.Calls("list_accounts"))
	}
}

func TestSearchAccountsByEmail(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	a := sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-1", Email: "ops@acme.test"})
	b := sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-2", Email: "OPS@acme.test"})
	sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-3", Email: "other@acme.test"})
	c := newClient(sim)
	got, err := c.SearchAccountsByEmail(context.Background(), "ops@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{a, b}) || got[1].ReferenceID != "org-2" {
		t.Fatalf("got %+v", got)
	}
	if _, err := c.SearchAccountsByEmail(context.Background(), ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("empty email: %v", err)
	}

	// A custom email field is searched as fields.<name>.
	sim.SetEmailField("work-email")
	if _, err := c.SearchAccountsByEmail(context.Background(), "ops@acme.test"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("default field against work-email: %v", err)
	}
	c = newClient(sim, func(cfg *persona.ClientConfig) { cfg.EmailField = "work-email" })
	got, err = c.SearchAccountsByEmail(context.Background(), "other@acme.test")
	if err != nil || len(got) != 1 || got[0].Email != "other@acme.test" {
		t.Fatalf("work-email: %+v %v", got, err)
	}
}

func TestClientRetries(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-1", Email: "ops@acme.test"})
	c := newClient(sim)
	ctx := context.Background()

	sim.FailNext("search_accounts", http.StatusServiceUnavailable, 2)
	if got, err := c.SearchAccountsByEmail(ctx, "ops@acme.test"); err != nil || len(got) != 1 {
		t.Fatalf("after two 503s: %v %v", got, err)
	}
	if n := sim.Calls("search_accounts"); n != 3 {
		t.Fatalf("503: %d calls, want 3", n)
	}

	sim.FailNext("search_accounts", http.StatusBadRequest, 1)
	_, err := c.SearchAccountsByEmail(ctx, "ops@acme.test")
	if relay.ErrorCode(err) != relay.EINVALID || relay.ErrorMessage(err) != "persona: search accounts: HTTP 400" {
		t.Fatalf("400: %v", err)
	}
	if n := sim.Calls("search_accounts"); n != 4 {
		t.Fatalf("400 retried: %d calls", n)
	}

	sim.FailNext("list_accounts", http.StatusNotFound, 1)
	if _, err := c.AccountsByReferenceID(ctx, "org-1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("404: %v", err)
	}
	if n := sim.Calls("list_accounts"); n != 1 {
		t.Fatalf("404 retried: %d calls", n)
	}

	bad := persona.NewClient(persona.ClientConfig{APIURL: sim.URL(), APIKey: "wrong"})
	if _, err := bad.AccountsByReferenceID(ctx, "org-1"); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := persona.NewClient(persona.ClientConfig{APIURL: sim.URL()}).AccountsByReferenceID(ctx, "org-1"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("no key: %v", err)
	}

	slow := newClient(sim, func(cfg *persona.ClientConfig) { cfg.Timeout, cfg.Attempts = 50*time.Millisecond, 1 })
	sim.DelayNext("list_accounts", 1, time.Second)
	if _, err := slow.AccountsByReferenceID(ctx, "org-1"); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("timeout: %v", err)
	}
}

func TestClientRateLimit(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-1"})
	sim.SetRateLimit(2, time.Minute)
	start := time.Now()
	c := newClient(sim)
	ctx := context.Background()
	if rl := c.RateLimit(); rl.Known {
		t.Fatalf("before any call: %+v", rl)
	}
	if _, err := c.AccountsByReferenceID(ctx, "org-1"); err != nil {
		t.Fatal(err)
	}
	rl := c.RateLimit()
	// RateLimit-Reset is seconds from now, not a Unix time.
	if !rl.Known || rl.Limit != 2 || rl.Remaining != 1 || rl.Reset.Before(start.Add(50*time.Second)) || rl.Reset.After(start.Add(2*time.Minute)) {
		t.Fatalf("rate limit %+v", rl)
	}
	if _, err := c.AccountsByReferenceID(ctx, "org-1"); err != nil {
		t.Fatal(err)
	}
	// Used up: the 429 names a reset about a minute away, too long to wait
	// in place, so the error carries it.
	_, err := c.AccountsByReferenceID(ctx, "org-1")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).Before(start.Add(50*time.Second)) {
		t.Fatalf("over the limit: %v (retry at %v)", err, relay.RetryAt(err))
	}
	if sim.OverLimit() != 1 || c.RateLimit().Remaining != 0 {
		t.Fatalf("over limit %d, remaining %d", sim.OverLimit(), c.RateLimit().Remaining)
	}
}

// TestClientWire checks what the client sends and reads against a
// hand-written server: headers, the search grammar, the email-address
// attribute fallback, absolute next links and off-origin links.
func TestClientWire(t *testing.T) {
	var (
		mu        sync.Mutex
		search    map[string]any
		offOrigin atomic.Bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer key-1" || r.Header.Get("Persona-Version") != "2023-01-05" ||
			r.Header.Get("Key-Inflection") != "kebab" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/base/api/v1/accounts/search":
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			_ = json.Unmarshal(b, &search)
			mu.Unlock()
			fmt.Fprint(w, `{"data":[{"type":"account","id":"act_1","attributes":{"reference-id":"u1","email-address":"a@b.test","created-at":"2024-05-14T16:00:11.000Z","fields":{}}},{"type":"account","id":"act_2","attributes":{"reference-id":"u2","fields":{"email-address":{"type":"string","value":"someone-else@b.test"}}}}],"links":{"next":null}}`)
		case r.URL.Query().Get("page[after]") == "":
			if r.URL.Query().Get("filter[reference-id]") != "u1" || r.URL.Query().Get("page[size]") != "100" {
				t.Errorf("query %v", r.URL.Query())
			}
			next := "http://" + r.Host + "/base/api/v1/accounts?filter%5Breference-id%5D=u1&page%5Bafter%5D=act_1"
			if offOrigin.Load() {
				next = "https://evil.example/api/v1/accounts?page%5Bafter%5D=act_1"
			}
			fmt.Fprintf(w, `{"data":[{"type":"account","id":"act_1","attributes":{"reference-id":"u1"}},{"type":"account","id":"act_9","attributes":{"reference-id":"not-u1"}}],"links":{"next":%q}}`, next)
		default:
			fmt.Fprint(w, `{"data":[{"type":"account","id":"act_1","attributes":{"reference-id":"u1"}},{"type":"account","id":"act_3","attributes":{"reference-id":"u1"}}],"links":{"next":null}}`)
		}
	}))
	defer srv.Close()
	c := persona.NewClient(persona.ClientConfig{APIURL: srv.URL + "/base/", APIKey: "key-1"})
	ctx := context.Background()

	got, err := c.SearchAccountsByEmail(ctx, "a@b.test")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"query": map[string]any{"attribute": "fields.email-address", "operator": "eq", "value": "a@b.test"}}
	mu.Lock()
	body := fmt.Sprint(search)
	mu.Unlock()
	if body != fmt.Sprint(want) {
		t.Fatalf("search body %v", search)
	}
	// act_2's email differs: dropped. act_1's comes from the attribute.
	if len(got) != 1 || got[0].ID != "act_1" || got[0].Email != "a@b.test" || got[0].CreatedAt.IsZero() {
		t.Fatalf("search %+v", got)
	}

	// Accounts of another reference id are dropped, duplicates across
	// pages too.
	got, err = c.AccountsByReferenceID(ctx, "u1")
	if err != nil || !slices.Equal(ids(got), []string{"act_1", "act_3"}) {
		t.Fatalf("list %+v %v", got, err)
	}

	offOrigin.Store(true)
	if _, err := c.AccountsByReferenceID(ctx, "u1"); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("off-origin next link: %v", err)
	}
}
