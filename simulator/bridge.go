package simulator

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bridge simulates Bridge (bridge.xyz), following docs/providers.md: a webhook
// endpoint's RSA key pair (Webhook signs as Bridge does, PublicKeyPEM is
// what Bridge shows for the endpoint) and the customers API authenticated
// with the Api-Key header:
//
//   - GET /v0/customers/{id} answers the customer, or 404.
//   - POST /v0/customers creates one, following Bridge's idempotency rules:
//     an Idempotency-Key is required (400 without); the same key with the
//     same body (compared as JSON, so key order and spacing do not matter)
//     replays the first answer and creates nothing; the same key with a
//     different body, or reused more than 24 h (on the simulator's clock)
//     after it was first used, is 422. Bridge documents 422 for the expired
//     key and only "an idempotency error" for a changed body; 422 is used
//     for both (the exact status of the latter is UNCONFIRMED).
//   - An Idempotency-Key on a GET is 400: Bridge forbids it on GET, PUT,
//     PATCH and DELETE.
//
// Errors are Bridge-shaped JSON {"code": …, "message": …}; a missing or
// wrong Api-Key is 401.
//
// Calls, FailNext, DelayNext, RateLimitNext name the endpoints get_customer
// and create_customer. A create whose client gave up during a DelayNext is
// still carried out, as on a real server whose answer was lost: that is the
// case an Idempotency-Key repeated on the retry exists for. Bridge
// documents no rate-limit headers; with SetRateLimit the answers carry
// RateLimit-Limit/-Remaining/-Reset (seconds), an UNCONFIRMED choice, and
// past the limit it answers 429.
type Bridge struct {
	calls
	apiLimits
	// APIKey is the key the API accepts in the Api-Key header.
	APIKey string

	srv    *httptest.Server
	now    func() time.Time
	key    *rsa.PrivateKey
	pubPEM string

	mu        sync.Mutex
	customers map[string]*BridgeCustomer
	idem      map[string]*bridgeIdem // by Idempotency-Key
}

// BridgeCustomer is a customer of the simulated Bridge account.
type BridgeCustomer struct {
	ID, FirstName, LastName, Email string
	Status                         string // not_started, active, rejected, …
	Type                           string // individual | business
	CreatedAt                      time.Time
}

// bridgeIdem is what a used Idempotency-Key remembers: the request it came
// with and the answer given.
type bridgeIdem struct {
	body   []byte // canonical JSON of the request
	at     time.Time
	status int
	answer []byte
}

// bridgeIdemTTL is how long Bridge honours an Idempotency-Key.
const bridgeIdemTTL = 24 * time.Hour

// bridgeRateHeaders are the rate-limit headers the simulator sends
// (UNCONFIRMED: Bridge documents none).
var bridgeRateHeaders = rateHeaders{limit: "RateLimit-Limit", remaining: "RateLimit-Remaining", reset: "RateLimit-Reset",
	resetIsDelta: true, status: http.StatusTooManyRequests,
	body: `{"code":"rate_limit_exceeded","message":"Too many requests"}`}

// NewBridge starts a Bridge simulator on now's clock (time.Now when nil),
// with a fresh 2048-bit RSA key pair for its webhook endpoint and a random
// APIKey. Close stops it.
func NewBridge(now func() time.Time) *Bridge {
	if now == nil {
		now = time.Now
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	b := &Bridge{APIKey: "sk-test-" + randomHex(16), now: now, key: k,
		pubPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		customers: map[string]*BridgeCustomer{}, idem: map[string]*bridgeIdem{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v0/customers/{id}", b.getCustomer)
	mux.HandleFunc("POST /v0/customers", b.createCustomer)
	b.srv = httptest.NewServer(mux)
	return b
}

// URL is the API origin (what the client's APIURL is set to).
func (b *Bridge) URL() string { return b.srv.URL }

// Close stops the simulator.
func (b *Bridge) Close() { b.srv.Close() }

// PublicKeyPEM returns the webhook endpoint's public key as a PKIX "PUBLIC
// KEY" PEM block, the form Bridge gives it in.
func (b *Bridge) PublicKeyPEM() string { return b.pubPEM }

// Webhook returns the headers Bridge sends with body signed at t (the
// simulator's clock when zero): X-Webhook-Signature "t=<unix ms>,v0=<base64
// RSA PKCS#1 v1.5 signature>" over SHA-256(SHA-256("<t>.<body>")), and
// Content-Type. The User-Agent is the simulator's own (Bridge's is not
// documented).
func (b *Bridge) Webhook(body []byte, t time.Time) http.Header {
	if t.IsZero() {
		t = b.now()
	}
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	h1 := sha256.Sum256(append([]byte(ts+"."), body...))
	h2 := sha256.Sum256(h1[:])
	sig, err := rsa.SignPKCS1v15(rand.Reader, b.key, crypto.SHA256, h2[:])
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("X-Webhook-Signature", "t="+ts+",v0="+base64.StdEncoding.EncodeToString(sig))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Relay-Simulator")
	return h
}

// AddCustomer makes a customer exist, replacing one with the same id, and
// returns it with defaults filled in: a random UUID id, status "active",
// type "individual", CreatedAt now.
func (b *Bridge) AddCustomer(c BridgeCustomer) BridgeCustomer {
	if c.ID == "" {
		c.ID = bridgeUUID()
	}
	if c.Status == "" {
		c.Status = "active"
	}
	if c.Type == "" {
		c.Type = "individual"
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = b.now()
	}
	c.CreatedAt = c.CreatedAt.UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.customers[c.ID] = &c
	return c
}

// Customers returns every customer, oldest first.
func (b *Bridge) Customers() []BridgeCustomer {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BridgeCustomer, 0, len(b.customers))
	for _, c := range b.customers {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y BridgeCustomer) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

func bridgeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg})
}

// bridgeUUID returns a random version 4 UUID, the form of Bridge's ids.
func bridgeUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// bridgeCustomerJSON is a customer as Bridge's API writes it (a subset of
// its fields, in its order).
type bridgeCustomerJSON struct {
	ID                        string   `json:"id"`
	FirstName                 string   `json:"first_name"`
	LastName                  string   `json:"last_name"`
	Email                     string   `json:"email"`
	Status                    string   `json:"status"`
	Type                      string   `json:"type"`
	HasAcceptedTermsOfService bool     `json:"has_accepted_terms_of_service"`
	Endorsements              []string `json:"endorsements"`
	CreatedAt                 string   `json:"created_at"`
	UpdatedAt                 string   `json:"updated_at"`
}

// bridgeTime is how Bridge writes times.
const bridgeTime = "2006-01-02T15:04:05.000Z"

func (c *BridgeCustomer) json() bridgeCustomerJSON {
	at := c.CreatedAt.UTC().Format(bridgeTime)
	return bridgeCustomerJSON{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Status: c.Status,
		Type: c.Type, HasAcceptedTermsOfService: c.Status == "active", Endorsements: []string{}, CreatedAt: at, UpdatedAt: at}
}

// admitAPI runs what every API request goes through, in order: injected
// failures, delays and rate limits, the Api-Key. It returns false when it
// answered the request itself; gone reports that the client gave up during
// an injected delay (nothing was answered).
func (b *Bridge) admitAPI(w http.ResponseWriter, r *http.Request, endpoint string) (ok, gone bool) {
	if status := b.take(endpoint); status != 0 {
		bridgeErr(w, status, "injected_failure", "Injected failure")
		return false, false
	}
	if !b.admit(w, r, endpoint, bridgeRateHeaders) {
		// admit answers a rate limit itself, and answers nothing when the
		// client went away while it waited.
		if r.Context().Err() == nil {
			return false, false
		}
		gone = true
	}
	if r.Header.Get("Api-Key") != b.APIKey || b.APIKey == "" {
		bridgeErr(w, http.StatusUnauthorized, "unauthorized", "Invalid or missing API key")
		return false, false
	}
	return !gone, gone
}

// getCustomer is GET /v0/customers/{id}.
func (b *Bridge) getCustomer(w http.ResponseWriter, r *http.Request) {
	if ok, _ := b.admitAPI(w, r, "get_customer"); !ok {
		return
	}
	if r.Header.Get("Idempotency-Key") != "" {
		bridgeErr(w, http.StatusBadRequest, "invalid_parameters", "Idempotency-Key is not allowed on GET requests")
		return
	}
	b.mu.Lock()
	c, found := b.customers[r.PathValue("id")]
	var v bridgeCustomerJSON
	if found {
		v = c.json()
	}
	b.mu.Unlock()
	if !found {
		bridgeErr(w, http.StatusNotFound, "not_found", "Customer not found")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// createCustomer is POST /v0/customers.
func (b *Bridge) createCustomer(w http.ResponseWriter, r *http.Request) {
	// Read the body first: a create carried out after its client gave up
	// still needs it.
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ok, gone := b.admitAPI(w, r, "create_customer")
	if !ok && !gone {
		return
	}
	// When gone, the create goes ahead and its answer is written to a
	// closed connection: the client never learns it happened.
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		bridgeErr(w, http.StatusBadRequest, "invalid_parameters", "Idempotency-Key header is required for POST requests")
		return
	}
	var in struct {
		Type      string `json:"type"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string `json:"email"`
	}
	var canon []byte
	var generic any
	if readErr == nil && json.Unmarshal(raw, &generic) == nil && json.Unmarshal(raw, &in) == nil {
		canon = mustJSON(generic) // map keys sorted: the body as JSON, not as bytes
	}
	if canon == nil || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		bridgeErr(w, http.StatusBadRequest, "invalid_parameters", "Body must be a JSON object")
		return
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if rec := b.idem[key]; rec != nil {
		switch {
		case now.Sub(rec.at) > bridgeIdemTTL:
			bridgeErr(w, http.StatusUnprocessableEntity, "idempotency_key_expired",
				"This Idempotency-Key was first used more than 24 hours ago")
		case !bytes.Equal(rec.body, canon):
			bridgeErr(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
				"This Idempotency-Key was used with a different request body")
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.answer)
		}
		return
	}
	if in.Type == "" {
		in.Type = "individual"
	}
	switch {
	case in.Type != "individual" && in.Type != "business":
		bridgeErr(w, http.StatusBadRequest, "invalid_parameters", "type must be individual or business")
		return
	case in.Email == "":
		bridgeErr(w, http.StatusBadRequest, "invalid_parameters", "email is required")
		return
	}
	c := &BridgeCustomer{ID: bridgeUUID(), FirstName: in.FirstName, LastName: in.LastName, Email: in.Email,
		Status: "not_started", Type: in.Type, CreatedAt: now.UTC()}
	b.customers[c.ID] = c
	answer := append(mustJSON(c.json()), '\n')
	b.idem[key] = &bridgeIdem{body: canon, at: now, status: http.StatusCreated, answer: answer}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(answer)
}

// BridgeCustomerEvent returns a Bridge webhook body of category "customer"
// for customer customerID, with event id eventID and event type eventType
// ("customer.created", "customer.updated",
// "customer.updated.status_transitioned", "customer.deleted"). Updates carry
// an event_object_changes diff of the status.
func BridgeCustomerEvent(eventID, customerID, eventType string) []byte {
	changes, seq := "{}", 1
	if strings.Contains(eventType, "updated") {
		changes, seq = `{"status":["under_review","active"],"updated_at":["2024-02-01T04:31:43.342Z","2024-02-01T05:02:11.907Z"]}`, 2
	}
	return fmt.Appendf(nil, `{"api_version":"v0","event_id":%[1]s,"event_developer_id":"5f3b7c1e-8a2d-4c6e-9b1f-2d7e4a6c8b90","event_category":"customer","event_type":%[2]s,"event_object_id":%[3]s,"event_object_status":"active","event_object":{"id":%[3]s,"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","status":"active","type":"individual","has_accepted_terms_of_service":true,"endorsements":[{"name":"base","status":"approved"}],"created_at":"2024-02-01T04:31:43.342Z","updated_at":"2024-02-01T05:02:11.907Z"},"event_object_changes":%[4]s,"event_created_at":"2024-02-01T05:02:12.118Z","event_sequence":%[5]d}`,
		q(eventID), q(eventType), q(customerID), changes, seq)
}

// BridgeTransferEvent returns a Bridge webhook body of category "transfer"
// for transfer transferID made on behalf of customer customerID (the
// transfer's on_behalf_of), with event id eventID and event type eventType
// ("transfer.created", "transfer.updated.status_transitioned", or, as in
// one of Bridge's own examples, the bare mutation "created").
func BridgeTransferEvent(eventID, transferID, customerID, eventType string) []byte {
	return fmt.Appendf(nil, `{"api_version":"v0","event_id":%[1]s,"event_developer_id":"5f3b7c1e-8a2d-4c6e-9b1f-2d7e4a6c8b90","event_category":"transfer","event_type":%[2]s,"event_object_id":%[3]s,"event_object_status":"payment_processed","event_object":{"id":%[3]s,"client_reference_id":null,"state":"payment_processed","on_behalf_of":%[4]s,"currency":"usd","amount":"125.0","developer_fee":"0.5","source":{"payment_rail":"ach","currency":"usd"},"destination":{"payment_rail":"ethereum","currency":"usdc","to_address":"0xdeadbeef00000000000000000000000000000001"},"receipt":{"initial_amount":"125.0","developer_fee":"0.5","exchange_fee":"0.0","subtotal_amount":"124.5","final_amount":"124.5"},"created_at":"2024-02-01T04:31:43.342Z","updated_at":"2024-02-01T05:02:11.907Z"},"event_object_changes":{"state":["funds_received","payment_processed"]},"event_created_at":"2024-02-01T05:02:12.118Z","event_sequence":3}`,
		q(eventID), q(eventType), q(transferID), q(customerID))
}
