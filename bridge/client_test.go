package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/simulator"
)

// newClient returns a client of sim with short timeouts and backoff.
func newClient(sim *simulator.Bridge, timeout time.Duration) *bridge.Client {
	return bridge.NewClient(bridge.ClientConfig{APIURL: sim.URL() + "/", APIKey: sim.APIKey, Timeout: timeout, Attempts: 3,
		BaseDelay: 10 * time.Millisecond, MaxWait: 100 * time.Millisecond})
}

func TestNewIdempotencyKey(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := bridge.NewIdempotencyKey(), bridge.NewIdempotencyKey()
	if !uuid.MatchString(a) || a == b {
		t.Fatalf("keys %q %q", a, b)
	}
}

func TestCreateCustomerRetriesTimeoutsWithOneKey(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	// The first two attempts time out after Bridge has done the work (the
	// simulator carries a create out even when its client gave up): only
	// the repeated Idempotency-Key keeps the retries from creating more.
	sim.DelayNext("create_customer", 2, 2*time.Second)
	c := newClient(sim, 150*time.Millisecond)
	key := bridge.NewIdempotencyKey()
	cust, err := c.CreateCustomer(context.Background(), bridge.CustomerInput{Type: "individual", FirstName: "Ada",
		LastName: "Lovelace", Email: "ada@example.com"}, key)
	if err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	if n := sim.Calls("create_customer"); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	all := sim.Customers()
	if len(all) != 1 || all[0].ID != cust.ID || cust.Email != "ada@example.com" || cust.Type != "individual" ||
		cust.Status == "" || cust.CreatedAt.IsZero() {
		t.Fatalf("customers %+v, answer %+v", all, cust)
	}
	// The same logical operation retried later by the caller, with its
	// stored key, gets the same customer back.
	again, err := c.CreateCustomer(context.Background(), bridge.CustomerInput{Type: "individual", FirstName: "Ada",
		LastName: "Lovelace", Email: "ada@example.com"}, key)
	if err != nil || again.ID != cust.ID || len(sim.Customers()) != 1 {
		t.Fatalf("replay: %+v %v (%d customers)", again, err, len(sim.Customers()))
	}
	// The same key with a different body is refused and not retried.
	before := sim.Calls("create_customer")
	_, err = c.CreateCustomer(context.Background(), bridge.CustomerInput{Type: "individual", Email: "grace@example.com"}, key)
	if relay.ErrorCode(err) != relay.EINVALID || sim.Calls("create_customer") != before+1 || len(sim.Customers()) != 1 {
		t.Fatalf("reused key, other body: %v (%d calls)", err, sim.Calls("create_customer")-before)
	}
}

// keyRecorder wraps a transport and records the Idempotency-Key of every
// request (and whether it had one).
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
	has  []bool
	next http.RoundTripper
}

func (k *keyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	k.mu.Lock()
	_, ok := r.Header["Idempotency-Key"]
	k.keys, k.has = append(k.keys, r.Header.Get("Idempotency-Key")), append(k.has, ok)
	k.mu.Unlock()
	return k.next.RoundTrip(r)
}

func TestCreateCustomerGeneratesOneKeyPerCall(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	rec := &keyRecorder{next: http.DefaultTransport}
	c := bridge.NewClient(bridge.ClientConfig{APIURL: sim.URL(), APIKey: sim.APIKey, HTTPClient: &http.Client{Transport: rec},
		BaseDelay: time.Millisecond})
	sim.FailNext("create_customer", http.StatusServiceUnavailable, 2)
	if _, err := c.CreateCustomer(context.Background(), bridge.CustomerInput{Email: "a@example.com"}, ""); err != nil {
		t.Fatalf("CreateCustomer after two 503s: %v", err)
	}
	if _, err := c.CreateCustomer(context.Background(), bridge.CustomerInput{Email: "b@example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) != 4 || rec.keys[0] == "" || rec.keys[0] != rec.keys[1] || rec.keys[1] != rec.keys[2] || rec.keys[3] == rec.keys[0] {
		t.Fatalf("keys %q", rec.keys)
	}
	if n := len(sim.Customers()); n != 2 {
		t.Fatalf("%d customers, want 2", n)
	}
}

func TestCreateCustomerRetries(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	c := newClient(sim, 5*time.Second)
	in := bridge.CustomerInput{Type: "individual", Email: "a@example.com"}

	sim.FailNext("create_customer", http.StatusServiceUnavailable, 1)
	if _, err := c.CreateCustomer(context.Background(), in, ""); err != nil || sim.Calls("create_customer") != 2 {
		t.Fatalf("503 then success: %v after %d calls", err, sim.Calls("create_customer"))
	}

	// A 429 whose Retry-After (1 s) is over MaxWait (100 ms) is not slept
	// in place: it comes back at once, with RetryAt, for the caller to
	// reschedule.
	sim.RateLimitNext("create_customer", 1, time.Second)
	_, err := c.CreateCustomer(context.Background(), in, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || sim.Calls("create_customer") != 3 {
		t.Fatalf("429 over MaxWait: %v (RetryAt %v) after %d calls", err, relay.RetryAt(err), sim.Calls("create_customer"))
	}
	// Within MaxWait the wait is honoured and the call retried.
	patient := bridge.NewClient(bridge.ClientConfig{APIURL: sim.URL(), APIKey: sim.APIKey, BaseDelay: time.Millisecond, MaxWait: 2 * time.Second})
	sim.RateLimitNext("create_customer", 1, time.Second)
	start := time.Now()
	if _, err := patient.CreateCustomer(context.Background(), in, ""); err != nil || sim.Calls("create_customer") != 5 {
		t.Fatalf("429 then success: %v after %d calls", err, sim.Calls("create_customer"))
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("retried after %v, before Retry-After", d)
	}

	sim.FailNext("create_customer", http.StatusBadRequest, 1)
	_, err = c.CreateCustomer(context.Background(), in, "")
	if relay.ErrorCode(err) != relay.EINVALID || sim.Calls("create_customer") != 6 {
		t.Fatalf("400: %v after %d calls", err, sim.Calls("create_customer"))
	}
	if msg := relay.ErrorMessage(err); !strings.Contains(msg, "bridge") || !strings.Contains(msg, "create customer") || !strings.Contains(msg, "400") {
		t.Fatalf("message %q does not name provider, call and status", msg)
	}

	sim.FailNext("create_customer", http.StatusBadGateway, 3)
	_, err = c.CreateCustomer(context.Background(), in, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || sim.Calls("create_customer") != 9 {
		t.Fatalf("502 ×3: %v after %d calls", err, sim.Calls("create_customer"))
	}

	// A create the simulator rejects (no email) is a 400, not retried.
	_, err = c.CreateCustomer(context.Background(), bridge.CustomerInput{Type: "individual"}, "")
	if relay.ErrorCode(err) != relay.EINVALID || sim.Calls("create_customer") != 10 {
		t.Fatalf("invalid body: %v after %d calls", err, sim.Calls("create_customer"))
	}
}

func TestGetCustomer(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	want := sim.AddCustomer(simulator.BridgeCustomer{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com",
		Type: "business", CreatedAt: time.Date(2024, 2, 1, 4, 31, 43, 342e6, time.UTC)})
	rec := &keyRecorder{next: http.DefaultTransport}
	c := bridge.NewClient(bridge.ClientConfig{APIURL: sim.URL(), APIKey: sim.APIKey, HTTPClient: &http.Client{Transport: rec},
		BaseDelay: time.Millisecond})
	sim.FailNext("get_customer", http.StatusInternalServerError, 1)
	got, err := c.GetCustomer(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.FirstName != "Grace" || got.LastName != "Hopper" || got.Email != "grace@example.com" ||
		got.Status != "active" || got.Type != "business" || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if len(rec.has) != 2 || rec.has[0] || rec.has[1] {
		t.Fatalf("GET sent an Idempotency-Key: %v", rec.has)
	}

	_, err = c.GetCustomer(context.Background(), "no-such-customer")
	if relay.ErrorCode(err) != relay.ENOTFOUND || !strings.Contains(relay.ErrorMessage(err), "get customer: HTTP 404") {
		t.Fatalf("unknown customer: %v", err)
	}
	if n := sim.Calls("get_customer"); n != 3 {
		t.Fatalf("%d calls: a 404 was retried", n)
	}
	if _, err := c.GetCustomer(context.Background(), ""); relay.ErrorCode(err) != relay.EINVALID || sim.Calls("get_customer") != 3 {
		t.Fatalf("empty id: %v", err)
	}

	bad := bridge.NewClient(bridge.ClientConfig{APIURL: sim.URL(), APIKey: "wrong"})
	if _, err := bad.GetCustomer(context.Background(), want.ID); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("wrong API key: %v", err)
	}
}

func TestGetCustomerTimeout(t *testing.T) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	want := sim.AddCustomer(simulator.BridgeCustomer{Email: "a@example.com"})
	c := newClient(sim, 100*time.Millisecond)
	sim.DelayNext("get_customer", 3, time.Second)
	_, err := c.GetCustomer(context.Background(), want.ID)
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || sim.Calls("get_customer") != 3 {
		t.Fatalf("three timeouts: %v after %d calls", err, sim.Calls("get_customer"))
	}
	if strings.Contains(relay.ErrorMessage(err), sim.APIKey) || strings.Contains(relay.ErrorMessage(err), sim.URL()) {
		t.Fatalf("message leaks: %q", relay.ErrorMessage(err))
	}
}

func TestClientConflictAndDefaults(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	c := bridge.NewClient(bridge.ClientConfig{APIURL: srv.URL, APIKey: "k"})
	_, err := c.CreateCustomer(context.Background(), bridge.CustomerInput{Email: "a@example.com"}, "key-1")
	if relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("409: %v", err)
	}
	if got.URL.Path != "/v0/customers" || got.Header.Get("Api-Key") != "k" || got.Header.Get("Idempotency-Key") != "key-1" ||
		got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %v", got.URL.Path, got.Header)
	}
}

// A Bridge API that redirects must not carry the Api-Key to the host it
// names: the client does not follow redirects at all.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var leaked sync.Mutex
	got := ""
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Lock()
		got = r.Header.Get("Api-Key")
		leaked.Unlock()
		_, _ = w.Write([]byte(`{"id":"cust_x"}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	c := bridge.NewClient(bridge.ClientConfig{APIURL: api.URL, APIKey: "sk-bridge-secret", BaseDelay: time.Millisecond})
	_, err := c.GetCustomer(context.Background(), "cust_x")
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "HTTP 307") {
		t.Fatalf("redirected lookup: %v, want a refused 307", err)
	}
	leaked.Lock()
	defer leaked.Unlock()
	if got != "" {
		t.Fatalf("the Api-Key reached the redirect's host: %q", got)
	}
}
