package bridge

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// DefaultAPIURL is Bridge's production API origin.
const DefaultAPIURL = "https://api.bridge.xyz"

// ClientConfig configures a Bridge API client.
type ClientConfig struct {
	// APIURL is Bridge's API origin, without /v0 (default DefaultAPIURL;
	// https://api.sandbox.bridge.xyz for the sandbox, or a simulator).
	APIURL string
	// APIKey is sent in the Api-Key header of every call.
	APIKey string
	// HTTPClient makes the calls; default one without an overall timeout,
	// since every attempt has its own (Timeout).
	HTTPClient *http.Client
	// Timeout bounds each attempt (default 20 s); Attempts is how many tries
	// a timeout, connection error, 5xx or 429 gets in all (default 3).
	Timeout  time.Duration
	Attempts int
	// BaseDelay is the first backoff between attempts and MaxWait the
	// longest one slept (defaults 250 ms and 5 s; see httpjson.Client).
	BaseDelay, MaxWait time.Duration
	// Now is the clock Retry-After dates are read with; default time.Now.
	Now func() time.Time
}

// Client calls Bridge's customers API. Every call goes through the shared
// provider client (internal/httpjson): per-attempt timeout, retries on
// timeouts, connection errors, 5xx and 429 only, and, for creates, one
// Idempotency-Key repeated on every retry. It is safe for concurrent use.
type Client struct {
	api  *httpjson.Client
	base string
	key  string
}

// NewClient returns a client for cfg.
func NewClient(cfg ClientConfig) *Client {
	base := strings.TrimRight(cfg.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// No redirects: the Api-Key header must reach Bridge's API host only.
	api := &httpjson.Client{HTTP: hc, Provider: "bridge", Timeout: cfg.Timeout, Attempts: cfg.Attempts,
		BaseDelay: cfg.BaseDelay, MaxWait: cfg.MaxWait, Now: cfg.Now, NoRedirects: true}
	return &Client{api: api, base: base, key: cfg.APIKey}
}

// Customer is a Bridge customer as GET /v0/customers/{id} returns it (the
// fields Relay uses; Bridge sends more).
type Customer struct {
	ID        string    `json:"id"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Email     string    `json:"email"`
	Status    string    `json:"status"` // e.g. not_started, active, rejected
	Type      string    `json:"type"`   // individual | business
	CreatedAt time.Time `json:"created_at"`
}

// CustomerInput is the body of a customer creation.
type CustomerInput struct {
	Type      string `json:"type"` // individual | business
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
}

// NewIdempotencyKey returns a fresh random UUID (version 4), the form of
// Idempotency-Key Bridge recommends. Generate it once per logical operation
// and store it with the operation, so a retry — even from another process —
// sends the same key.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GetCustomer reads customer id (GET /v0/customers/{id}); it never sends
// an Idempotency-Key, which Bridge refuses on GET. Errors are *relay.Error
// naming the provider, the call and the status: EINVALID for an empty id or
// a refused request, ENOTFOUND for 404, EUNAUTHORIZED for 401 (bad API
// key), EUNAVAILABLE when Bridge failed, rate-limited or timed out on every
// attempt.
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	if id == "" {
		return nil, relay.Errorf(relay.EINVALID, "bridge: get customer: empty id")
	}
	var out Customer
	err := c.do(ctx, &httpjson.Request{Method: http.MethodGet, URL: c.base + "/v0/customers/" + url.PathEscape(id),
		What: "get customer", Header: c.header(), Out: &out})
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "bridge: get customer: no id in the answer")
	}
	return &out, nil
}

// CreateCustomer creates a customer (POST /v0/customers) with
// idempotencyKey as its Idempotency-Key, sent unchanged on every retry so
// that a create whose answer was lost is not repeated: pass the key made
// once (NewIdempotencyKey) for the logical operation. An empty key makes one
// for this call only, which protects its own retries but not a retry by the
// caller. Errors are as GetCustomer's, plus ECONFLICT for 409; Bridge
// answers a reused key with a different body (or one older than 24 h) with
// an idempotency error (422), which is EINVALID and never retried.
func (c *Client) CreateCustomer(ctx context.Context, in CustomerInput, idempotencyKey string) (*Customer, error) {
	if idempotencyKey == "" {
		idempotencyKey = NewIdempotencyKey()
	}
	var out Customer
	err := c.do(ctx, &httpjson.Request{Method: http.MethodPost, URL: c.base + "/v0/customers", What: "create customer",
		Header: c.header(), Body: in, IdempotencyKey: idempotencyKey, Out: &out})
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "bridge: create customer: no id in the answer")
	}
	return &out, nil
}

func (c *Client) header() http.Header {
	return http.Header{"Api-Key": {c.key}}
}

// do runs r and refines httpjson's EINVALID for the 4xx statuses that have
// a code of their own: 404 → ENOTFOUND, 409 → ECONFLICT. The status comes
// from the refused answer httpjson returns with the error, never from the
// error's text.
func (c *Client) do(ctx context.Context, r *httpjson.Request) error {
	resp, err := c.api.Do(ctx, r)
	if err == nil || resp == nil {
		return err
	}
	switch s := resp.Status; s {
	case http.StatusNotFound:
		return relay.Errorf(relay.ENOTFOUND, "bridge: %s: HTTP %d", r.What, s)
	case http.StatusConflict:
		return relay.Errorf(relay.ECONFLICT, "bridge: %s: HTTP %d", r.What, s)
	}
	return err
}
