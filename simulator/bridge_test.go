package simulator_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
)

// bridgeCall makes one API request to sim and decodes the JSON answer.
func bridgeCall(t *testing.T, sim *simulator.Bridge, method, path, apiKey, idemKey, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, sim.URL()+path, rd)
	if apiKey != "" {
		req.Header.Set("Api-Key", apiKey)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestBridgeSimulatorIdempotency(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim := simulator.NewBridge(clock)
	defer sim.Close()
	key := sim.APIKey

	// Auth: Bridge-shaped 401.
	if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", "wrong", "k1", `{"email":"a@example.com"}`); resp.StatusCode != 401 ||
		out["code"] == nil || out["message"] == nil {
		t.Fatalf("wrong key: %d %v", resp.StatusCode, out)
	}
	if resp, _ := bridgeCall(t, sim, "GET", "/v0/customers/x", "", "", ""); resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	// POST needs an Idempotency-Key.
	if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", key, "", `{"email":"a@example.com"}`); resp.StatusCode != 400 || out["code"] == nil {
		t.Fatalf("POST without key: %d %v", resp.StatusCode, out)
	}

	body := `{"type":"individual","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}`
	resp, first := bridgeCall(t, sim, "POST", "/v0/customers", key, "k1", body)
	if resp.StatusCode != 201 || first["id"] == nil || first["email"] != "ada@example.com" || first["status"] != "not_started" ||
		first["type"] != "individual" || first["created_at"] != "2026-03-04T12:00:00.000Z" {
		t.Fatalf("create: %d %v", resp.StatusCode, first)
	}
	// Same key, same JSON (other key order and spacing): replayed.
	resp, again := bridgeCall(t, sim, "POST", "/v0/customers", key, "k1",
		`{ "email": "ada@example.com", "last_name": "Lovelace", "first_name": "Ada", "type": "individual" }`)
	if resp.StatusCode != 201 || again["id"] != first["id"] || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v", resp.StatusCode, again)
	}
	// Same key, different body: 422.
	if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", key, "k1", `{"type":"individual","email":"grace@example.com"}`); resp.StatusCode != 422 ||
		out["code"] != "idempotency_key_reused" {
		t.Fatalf("other body: %d %v", resp.StatusCode, out)
	}
	if n := len(sim.Customers()); n != 1 {
		t.Fatalf("%d customers after one create and its replays", n)
	}
	// Another key creates another customer.
	if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", key, "k2", body); resp.StatusCode != 201 || out["id"] == first["id"] {
		t.Fatalf("second key: %d %v", resp.StatusCode, out)
	}
	// A key reused after 24 h: 422, even with the same body.
	mu.Lock()
	now = now.Add(24*time.Hour + time.Second)
	mu.Unlock()
	if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", key, "k1", body); resp.StatusCode != 422 || out["code"] != "idempotency_key_expired" {
		t.Fatalf("expired key: %d %v", resp.StatusCode, out)
	}
	// Validation.
	for _, b := range []string{`{"type":"individual"}`, `{"type":"robot","email":"r@example.com"}`, `[1]`, `null`, `nope`} {
		if resp, out := bridgeCall(t, sim, "POST", "/v0/customers", key, "k-"+b, b); resp.StatusCode != 400 || out["code"] == nil {
			t.Fatalf("body %s: %d %v", b, resp.StatusCode, out)
		}
	}

	// GET: the customer; an Idempotency-Key is refused; unknown is 404.
	id := first["id"].(string)
	if resp, out := bridgeCall(t, sim, "GET", "/v0/customers/"+id, key, "", ""); resp.StatusCode != 200 || out["id"] != id ||
		out["first_name"] != "Ada" || out["last_name"] != "Lovelace" {
		t.Fatalf("get: %d %v", resp.StatusCode, out)
	}
	if resp, out := bridgeCall(t, sim, "GET", "/v0/customers/"+id, key, "k9", ""); resp.StatusCode != 400 || out["code"] == nil {
		t.Fatalf("GET with Idempotency-Key: %d %v", resp.StatusCode, out)
	}
	if resp, out := bridgeCall(t, sim, "GET", "/v0/customers/nope", key, "", ""); resp.StatusCode != 404 || out["code"] == nil {
		t.Fatalf("unknown: %d %v", resp.StatusCode, out)
	}
	// Injected failures and call counts.
	sim.FailNext("get_customer", 503, 1)
	if resp, _ := bridgeCall(t, sim, "GET", "/v0/customers/"+id, key, "", ""); resp.StatusCode != 503 {
		t.Fatalf("injected: %d", resp.StatusCode)
	}
	if sim.Calls("get_customer") != 5 || sim.Calls("create_customer") != 12 {
		t.Fatalf("calls get %d create %d", sim.Calls("get_customer"), sim.Calls("create_customer"))
	}
}

func TestBridgeSimulatorAbandonedCreateHappens(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	sim.DelayNext("create_customer", 1, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", sim.URL()+"/v0/customers", strings.NewReader(`{"email":"a@example.com"}`))
	req.Header.Set("Api-Key", sim.APIKey)
	req.Header.Set("Idempotency-Key", "k-lost")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the delayed request answered in time")
	}
	// The server carries the create out once it notices the client left.
	deadline := time.Now().Add(3 * time.Second)
	for len(sim.Customers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	all := sim.Customers()
	if len(all) != 1 {
		t.Fatalf("%d customers after an abandoned create", len(all))
	}
	// Its retry with the key gets the same customer.
	resp, out := bridgeCall(t, sim, "POST", "/v0/customers", sim.APIKey, "k-lost", `{"email":"a@example.com"}`)
	if resp.StatusCode != 201 || out["id"] != all[0].ID || len(sim.Customers()) != 1 {
		t.Fatalf("retry: %d %v", resp.StatusCode, out)
	}
}

func TestBridgeSimulatorRateLimit(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	c := sim.AddCustomer(simulator.BridgeCustomer{Email: "a@example.com"})
	sim.SetRateLimit(1, time.Minute)
	if resp, _ := bridgeCall(t, sim, "GET", "/v0/customers/"+c.ID, sim.APIKey, "", ""); resp.StatusCode != 200 ||
		resp.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("first: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, out := bridgeCall(t, sim, "GET", "/v0/customers/"+c.ID, sim.APIKey, "", ""); resp.StatusCode != 429 || out["code"] == nil {
		t.Fatalf("over the limit: %d %v", resp.StatusCode, out)
	}
	sim.SetRateLimit(0, 0)
	sim.RateLimitNext("get_customer", 1, 2*time.Second)
	if resp, _ := bridgeCall(t, sim, "GET", "/v0/customers/"+c.ID, sim.APIKey, "", ""); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("RateLimitNext: %d %v", resp.StatusCode, resp.Header)
	}
	if sim.OverLimit() != 1 {
		t.Fatalf("OverLimit %d", sim.OverLimit())
	}
}

func TestBridgeSimulatorCustomers(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b := sim.AddCustomer(simulator.BridgeCustomer{ID: "b", Email: "b@example.com", CreatedAt: t0.Add(time.Hour)})
	a := sim.AddCustomer(simulator.BridgeCustomer{ID: "a", Email: "a@example.com", Status: "rejected", Type: "business", CreatedAt: t0})
	if b.Status != "active" || b.Type != "individual" || a.Status != "rejected" || a.Type != "business" {
		t.Fatalf("defaults: %+v %+v", a, b)
	}
	gen := sim.AddCustomer(simulator.BridgeCustomer{})
	if len(gen.ID) != 36 || gen.CreatedAt.IsZero() {
		t.Fatalf("generated: %+v", gen)
	}
	all := sim.Customers()
	if len(all) != 3 || all[0].ID != "a" || all[1].ID != "b" || all[2].ID != gen.ID {
		t.Fatalf("order: %+v", all)
	}
}

// TestBridgeWebhookSignature checks the simulator's signature with the
// standard library alone, the way Bridge's documentation describes it.
func TestBridgeWebhookSignature(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	blk, _ := pem.Decode([]byte(sim.PublicKeyPEM()))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("PEM %q", sim.PublicKeyPEM())
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1772625609123)
	body := simulator.BridgeCustomerEvent("wh_1", "cust-1", "customer.created")
	h := sim.Webhook(body, at)
	ts, sig, ok := strings.Cut(h.Get("X-Webhook-Signature"), ",")
	if !ok || ts != "t=1772625609123" || !strings.HasPrefix(sig, "v0=") || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(sig[3:])
	if err != nil {
		t.Fatal(err)
	}
	h1 := sha256.Sum256([]byte("1772625609123." + string(body)))
	h2 := sha256.Sum256(h1[:])
	if err := rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), crypto.SHA256, h2[:], raw); err != nil {
		t.Fatalf("double-hashed signature: %v", err)
	}
	if err := rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), crypto.SHA256, h1[:], raw); err == nil {
		t.Fatal("the signature verifies single-hashed")
	}
	// A zero time signs at the simulator's clock.
	if ts, _, _ := strings.Cut(sim.Webhook(body, time.Time{}).Get("X-Webhook-Signature"), ","); ts == "t=1772625609123" || len(ts) != 15 {
		t.Fatalf("zero time: %q", ts)
	}
}

func TestBridgePayloads(t *testing.T) {
	type event struct {
		APIVersion         string          `json:"api_version"`
		EventID            string          `json:"event_id"`
		EventCategory      string          `json:"event_category"`
		EventType          string          `json:"event_type"`
		EventObjectID      string          `json:"event_object_id"`
		EventObjectStatus  *string         `json:"event_object_status"`
		EventObject        map[string]any  `json:"event_object"`
		EventObjectChanges map[string]any  `json:"event_object_changes"`
		EventCreatedAt     string          `json:"event_created_at"`
		EventSequence      json.RawMessage `json:"event_sequence"`
	}
	var c, u, tr event
	for _, x := range []struct {
		body []byte
		into *event
	}{
		{simulator.BridgeCustomerEvent("wh_c", "cust-\"1", "customer.created"), &c},
		{simulator.BridgeCustomerEvent("wh_u", "cust-1", "customer.updated"), &u},
		{simulator.BridgeTransferEvent("wh_t", "tr-1", "cust-1", "transfer.updated.status_transitioned"), &tr},
	} {
		if err := json.Unmarshal(x.body, x.into); err != nil {
			t.Fatalf("%s: %v", x.body, err)
		}
	}
	if c.APIVersion != "v0" || c.EventID != "wh_c" || c.EventCategory != "customer" || c.EventType != "customer.created" ||
		c.EventObjectID != `cust-"1` || c.EventObject["id"] != `cust-"1` || len(c.EventObjectChanges) != 0 ||
		c.EventCreatedAt == "" || len(c.EventSequence) == 0 || c.EventObjectStatus == nil {
		t.Fatalf("customer created: %+v", c)
	}
	if len(u.EventObjectChanges) == 0 {
		t.Fatalf("customer updated has no changes: %+v", u)
	}
	if tr.EventCategory != "transfer" || tr.EventObjectID != "tr-1" || tr.EventObject["on_behalf_of"] != "cust-1" ||
		tr.EventType != "transfer.updated.status_transitioned" {
		t.Fatalf("transfer: %+v", tr)
	}
}
