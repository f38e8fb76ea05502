package simulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
)

// personaDoc is a JSON:API page of accounts.
type personaDoc struct {
	Data []struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Attributes map[string]any `json:"attributes"`
	} `json:"data"`
	Links struct {
		Prev *string `json:"prev"`
		Next *string `json:"next"`
	} `json:"links"`
	Errors []struct {
		Title string `json:"title"`
	} `json:"errors"`
}

func personaCall(t *testing.T, sim *simulator.Persona, method, path, key string, body any) (*http.Response, personaDoc) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, sim.URL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc personaDoc
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp, doc
}

func TestPersonaSimulatorAccounts(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	for i := range 25 {
		ref := "org-1"
		if i%5 == 0 {
			ref = "org-2"
		}
		sim.AddAccount(simulator.PersonaAccount{ID: fmt.Sprintf("act_%02d", i), ReferenceID: ref, Email: fmt.Sprintf("u%d@acme.test", i)})
	}

	resp, doc := personaCall(t, sim, "GET", "/api/v1/accounts", "wrong", nil)
	if resp.StatusCode != 401 || len(doc.Errors) != 1 || doc.Errors[0].Title == "" {
		t.Fatalf("wrong key: %d %+v", resp.StatusCode, doc)
	}

	// 20 accounts of org-1, the default page of 10, then links.next.
	var got []string
	path := "/api/v1/accounts?filter%5Breference-id%5D=org-1"
	pages := 0
	for path != "" {
		resp, doc = personaCall(t, sim, "GET", path, sim.APIKey, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") == "" {
			t.Fatalf("page %d: %d", pages, resp.StatusCode)
		}
		pages++
		for _, d := range doc.Data {
			fields, _ := d.Attributes["fields"].(map[string]any)
			email, _ := fields["email-address"].(map[string]any)
			if d.Type != "account" || d.Attributes["reference-id"] != "org-1" || email["value"] == nil || d.Attributes["created-at"] == nil {
				t.Fatalf("account %+v", d)
			}
			got = append(got, d.ID)
		}
		if pages > 1 && doc.Links.Prev == nil {
			t.Fatalf("page %d has no prev link", pages)
		}
		path = ""
		if doc.Links.Next != nil {
			path = *doc.Links.Next
			if !strings.HasPrefix(path, "/api/v1/accounts?") {
				t.Fatalf("next link %q", path)
			}
		}
	}
	if len(got) != 20 || pages != 2 || got[0] != "act_01" || got[19] != "act_24" {
		t.Fatalf("%d pages: %v", pages, got)
	}
	if sim.Calls("list_accounts") != 3 {
		t.Fatalf("calls %d", sim.Calls("list_accounts"))
	}

	resp, doc = personaCall(t, sim, "GET", "/api/v1/accounts?page%5Bsize%5D=100", sim.APIKey, nil)
	if resp.StatusCode != 200 || len(doc.Data) != 25 || doc.Links.Next != nil {
		t.Fatalf("all: %d %d %v", resp.StatusCode, len(doc.Data), doc.Links.Next)
	}
	for _, bad := range []string{"page%5Bsize%5D=101", "page%5Bsize%5D=0", "page%5Bsize%5D=x", "page%5Bafter%5D=act_nope"} {
		if resp, doc := personaCall(t, sim, "GET", "/api/v1/accounts?"+bad, sim.APIKey, nil); resp.StatusCode != 400 || len(doc.Errors) != 1 {
			t.Fatalf("%s: %d", bad, resp.StatusCode)
		}
	}

	// Search by the email field, case-insensitively; other grammar is 400.
	search := func(attr, op, value string) (*http.Response, personaDoc) {
		return personaCall(t, sim, "POST", "/api/v1/accounts/search", sim.APIKey,
			map[string]any{"query": map[string]string{"attribute": attr, "operator": op, "value": value}})
	}
	sim.AddAccount(simulator.PersonaAccount{ID: "act_dup", ReferenceID: "org-3", Email: "U3@ACME.test"})
	resp, doc = search("fields.email-address", "eq", "u3@acme.test")
	if resp.StatusCode != 200 || len(doc.Data) != 2 || doc.Data[0].ID != "act_03" || doc.Data[1].ID != "act_dup" {
		t.Fatalf("search: %d %+v", resp.StatusCode, doc)
	}
	if resp, doc = search("reference-id", "eq", "org-3"); len(doc.Data) != 1 {
		t.Fatalf("search by reference: %d %+v", resp.StatusCode, doc)
	}
	for _, q := range [][2]string{{"fields.email", "eq"}, {"fields.email-address", "like"}} {
		if resp, _ := search(q[0], q[1], "u3@acme.test"); resp.StatusCode != 400 {
			t.Fatalf("%v: %d", q, resp.StatusCode)
		}
	}
	sim.FailNext("search_accounts", 503, 1)
	if resp, doc := search("fields.email-address", "eq", "u3@acme.test"); resp.StatusCode != 503 || len(doc.Errors) != 1 {
		t.Fatalf("injected: %d", resp.StatusCode)
	}
	if sim.Calls("search_accounts") != 5 {
		t.Fatalf("search calls %d", sim.Calls("search_accounts"))
	}
}

func TestPersonaSimulatorSearchLag(t *testing.T) {
	var now atomic.Int64 // the clock, read by the server's goroutines
	now.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	sim := simulator.NewPersona(func() time.Time { return time.Unix(0, now.Load()) })
	defer sim.Close()
	sim.SetSearchLag(time.Minute)
	sim.AddAccount(simulator.PersonaAccount{ReferenceID: "org-1", Email: "new@acme.test"})
	body := map[string]any{"query": map[string]string{"attribute": "fields.email-address", "operator": "eq", "value": "new@acme.test"}}
	if _, doc := personaCall(t, sim, "POST", "/api/v1/accounts/search", sim.APIKey, body); len(doc.Data) != 0 {
		t.Fatalf("found before indexing: %+v", doc)
	}
	if _, doc := personaCall(t, sim, "GET", "/api/v1/accounts?filter%5Breference-id%5D=org-1", sim.APIKey, nil); len(doc.Data) != 1 {
		t.Fatalf("list is not lagged: %+v", doc)
	}
	now.Add(int64(time.Minute))
	if _, doc := personaCall(t, sim, "POST", "/api/v1/accounts/search", sim.APIKey, body); len(doc.Data) != 1 {
		t.Fatalf("not found after a minute: %+v", doc)
	}
}

func TestPersonaSimulatorRateLimit(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	sim.SetRateLimit(1, time.Minute)
	resp, _ := personaCall(t, sim, "GET", "/api/v1/accounts", sim.APIKey, nil)
	reset, _ := strconv.Atoi(resp.Header.Get("RateLimit-Reset"))
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "1" || resp.Header.Get("RateLimit-Remaining") != "0" || reset < 55 || reset > 60 {
		t.Fatalf("headers %d %v", resp.StatusCode, resp.Header)
	}
	resp, doc := personaCall(t, sim, "GET", "/api/v1/accounts", sim.APIKey, nil)
	if resp.StatusCode != 429 || len(doc.Errors) != 1 || sim.OverLimit() != 1 {
		t.Fatalf("over limit: %d %+v", resp.StatusCode, doc)
	}
}

// personaSets returns the t=…,v1=… sets of a Persona-Signature header.
func personaSets(t *testing.T, h string) [][2]string {
	t.Helper()
	var out [][2]string
	for _, set := range strings.Fields(h) {
		ts, v1, ok := strings.Cut(set, ",")
		if !ok || !strings.HasPrefix(ts, "t=") || !strings.HasPrefix(v1, "v1=") {
			t.Fatalf("set %q", set)
		}
		out = append(out, [2]string{ts[2:], v1[3:]})
	}
	return out
}

func personaMAC(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestPersonaSimulatorWebhook(t *testing.T) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	at := time.Date(2024, 5, 14, 16, 8, 2, 0, time.UTC)
	body := simulator.PersonaEvent("evt_1", "inquiry.approved", "act_1", "user-1")
	h := sim.Webhook(body, at)
	sets := personaSets(t, h.Get("Persona-Signature"))
	if len(sets) != 1 || sets[0][0] != strconv.FormatInt(at.Unix(), 10) || sets[0][1] != personaMAC(sim.WebhookSecret, sets[0][0], body) {
		t.Fatalf("signature %q", h.Get("Persona-Signature"))
	}
	if h.Get("Persona-Webhook-Attempts-Made") != "1" || h.Get("Persona-Webhook-Attempts-Left") != "4" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
	if h := sim.WebhookAttempt(body, at, 5); h.Get("Persona-Webhook-Attempts-Made") != "5" || h.Get("Persona-Webhook-Attempts-Left") != "0" {
		t.Fatalf("last attempt %v", h)
	}

	old := sim.WebhookSecret
	fresh := sim.RotateSecret()
	if fresh == old || sim.WebhookSecret != fresh {
		t.Fatal("rotation kept the secret")
	}
	sets = personaSets(t, sim.Webhook(body, at).Get("Persona-Signature"))
	if len(sets) != 2 || sets[0][1] != personaMAC(old, sets[0][0], body) || sets[1][1] != personaMAC(fresh, sets[1][0], body) {
		t.Fatalf("rotation sets %v", sets)
	}
	sim.EndRotation()
	if sets = personaSets(t, sim.Webhook(body, at).Get("Persona-Signature")); len(sets) != 1 || sets[0][1] != personaMAC(fresh, sets[0][0], body) {
		t.Fatalf("after rotation %v", sets)
	}
}

func TestPersonaEvent(t *testing.T) {
	type res struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Attributes map[string]any `json:"attributes"`
		Rels       struct {
			Account struct {
				Data *struct{ Type, ID string } `json:"data"`
			} `json:"account"`
		} `json:"relationships"`
	}
	var ev struct {
		Data struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				Name      string `json:"name"`
				CreatedAt string `json:"created-at"`
				Payload   struct {
					Data     res   `json:"data"`
					Included []res `json:"included"`
				} `json:"payload"`
			} `json:"attributes"`
		} `json:"data"`
	}
	decode := func(b []byte) {
		t.Helper()
		ev.Data.Attributes.Payload.Included = nil
		ev.Data.Attributes.Payload.Data = res{}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}

	decode(simulator.PersonaEvent("evt_1", "inquiry.approved", "act_1", "user-1"))
	d, pl := ev.Data, ev.Data.Attributes.Payload
	if d.Type != "event" || d.ID != "evt_1" || d.Attributes.Name != "inquiry.approved" || d.Attributes.CreatedAt == "" {
		t.Fatalf("event %+v", d)
	}
	if pl.Data.Type != "inquiry" || !strings.HasPrefix(pl.Data.ID, "inq_") || pl.Data.Attributes["reference-id"] != "user-1" ||
		pl.Data.Attributes["status"] != "approved" || pl.Data.Rels.Account.Data == nil || pl.Data.Rels.Account.Data.ID != "act_1" {
		t.Fatalf("inquiry %+v", pl.Data)
	}
	if len(pl.Included) != 1 || pl.Included[0].Type != "account" || pl.Included[0].ID != "act_1" {
		t.Fatalf("included %+v", pl.Included)
	}
	inq := pl.Data.ID
	decode(simulator.PersonaEvent("evt_1", "inquiry.approved", "act_1", "user-1"))
	if ev.Data.Attributes.Payload.Data.ID != inq {
		t.Fatal("resource id is not deterministic")
	}

	decode(simulator.PersonaEvent("evt_2", "account.created", "act_2", "org-2"))
	pl = ev.Data.Attributes.Payload
	if pl.Data.Type != "account" || pl.Data.ID != "act_2" || pl.Data.Attributes["reference-id"] != "org-2" || len(pl.Included) != 0 {
		t.Fatalf("account %+v", pl)
	}

	decode(simulator.PersonaEvent("evt_3", "inquiry.created", "", ""))
	pl = ev.Data.Attributes.Payload
	if pl.Data.Rels.Account.Data != nil || pl.Data.Attributes["reference-id"] != nil || len(pl.Included) != 0 {
		t.Fatalf("no account %+v", pl)
	}
}
