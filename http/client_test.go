package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

const clientTestKey = "rk_test"

// clientFakeRequest is what the fake API saw of one request.
type clientFakeRequest struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any // nil when there was none
}

// clientFake mimics Relay's /api/v1 surface: the routes, bearer auth, JSON
// in and out, and the {"error":{"code","message"}} answers. It records the
// requests it gets.
type clientFake struct {
	mu   sync.Mutex
	reqs []clientFakeRequest
}

var (
	clientT0    = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	clientEvent = &relay.Event{ID: "evt_1", Provider: "github", DeliveryID: "gh-1", EventType: "issues.opened",
		Source: relay.SourceLive, Payload: json.RawMessage(`{"action":"opened"}`), ReceivedAt: clientT0}
	clientDelivery = &relay.Delivery{ID: "dlv_1", EventID: "evt_1", DestinationID: "dst_1", Status: relay.DeliveryRetrying,
		Source: relay.SourceLive, Attempts: 1, NextAttemptAt: clientT0.Add(5 * time.Second), LastStatus: 500,
		LastError: "HTTP 500", CreatedAt: clientT0, UpdatedAt: clientT0,
		AttemptLog: []*relay.Attempt{{DeliveryID: "dlv_1", N: 1, StartedAt: clientT0, StatusCode: 500,
			Latency: relay.Duration(120 * time.Millisecond), Error: "HTTP 500", ResponseBody: "oops"}}}
	clientDestination = &relay.Destination{ID: "dst_1", Name: "app", URL: "http://app.internal/events",
		MaxConcurrency: 32, Timeout: relay.Duration(15 * time.Second), CreatedAt: clientT0, UpdatedAt: clientT0}
)

func (f *clientFake) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	writeErr := func(w http.ResponseWriter, status int, code, msg string) {
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, relay.Page[*relay.Event]{Items: []*relay.Event{clientEvent}, Next: "evt_0"})
	})
	mux.HandleFunc("GET /api/v1/events/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "evt_1" {
			writeErr(w, 404, relay.ENOTFOUND, "No such event.")
			return
		}
		e := *clientEvent
		e.Deliveries = []*relay.Delivery{clientDelivery}
		writeJSON(w, 200, e)
	})
	mux.HandleFunc("POST /api/v1/events/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 202, relay.Page[*relay.Delivery]{Items: []*relay.Delivery{clientDelivery}})
	})
	mux.HandleFunc("GET /api/v1/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, relay.Page[*relay.Delivery]{Items: []*relay.Delivery{clientDelivery}})
	})
	mux.HandleFunc("GET /api/v1/deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, clientDelivery)
	})
	mux.HandleFunc("POST /api/v1/deliveries/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		d := *clientDelivery
		d.Status, d.Source = relay.DeliveryPending, relay.SourceReplay
		writeJSON(w, 202, d)
	})
	mux.HandleFunc("GET /api/v1/destinations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, relay.Page[*relay.Destination]{Items: []*relay.Destination{clientDestination}})
	})
	mux.HandleFunc("POST /api/v1/destinations", func(w http.ResponseWriter, r *http.Request) {
		// The real server rejects unknown fields; so does the fake.
		var in struct {
			Name           string          `json:"name"`
			URL            string          `json:"url"`
			Secret         string          `json:"secret"`
			Providers      []string        `json:"providers"`
			EventTypes     []string        `json:"event_types"`
			OrgID          string          `json:"org_id"`
			MaxConcurrency int             `json:"max_concurrency"`
			Timeout        *relay.Duration `json:"timeout"`
			Disabled       bool            `json:"disabled"`
		}
		if !f.decodeStrict(w, r, &in, writeErr) {
			return
		}
		d := *clientDestination
		d.Name, d.URL, d.Secret = in.Name, in.URL, in.Secret
		if d.Secret == "" {
			d.Secret = "whsec_generated"
		}
		writeJSON(w, 201, d)
	})
	mux.HandleFunc("GET /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, clientDestination)
	})
	mux.HandleFunc("PATCH /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		d := *clientDestination
		d.Disabled = true
		writeJSON(w, 200, d)
	})
	mux.HandleFunc("DELETE /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /api/v1/destinations/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 202, map[string]int{"replayed": 3})
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 404, relay.ENOTFOUND, "No such endpoint.")
	})
	mux.HandleFunc("/proxy-error/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html><body>Bad Gateway</body></html>")
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := clientFakeRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query()}
		if r.Method != http.MethodGet && r.ContentLength != 0 {
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &rec.Body); err != nil {
				t.Errorf("%s %s: body is not a JSON object: %q", r.Method, r.URL.Path, b)
			}
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		f.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/proxy-error/") && r.Header.Get("Authorization") != "Bearer "+clientTestKey {
			writeErr(w, 401, relay.EUNAUTHORIZED, "Invalid API key.")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (f *clientFake) decodeStrict(w http.ResponseWriter, r *http.Request, v any, writeErr func(http.ResponseWriter, int, string, string)) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(w, 400, relay.EINVALID, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// last returns the last request the fake got.
func (f *clientFake) last(t *testing.T) clientFakeRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// newClientFake starts the fake API and returns it, a client of it, and its URL.
func newClientFake(t *testing.T) (*clientFake, *relayhttp.Client, string) {
	f := &clientFake{}
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	return f, relayhttp.NewClient(srv.URL+"/", clientTestKey), srv.URL // a trailing slash is fine
}

func TestClientEvents(t *testing.T) {
	f, c, _ := newClientFake(t)
	ctx := context.Background()

	page, err := c.ListEvents(ctx, relay.EventFilter{Provider: "github", EventType: "issues.*", Status: "dead",
		Since: clientT0, Until: clientT0.Add(time.Hour), Cursor: "evt_9", Limit: 50, OrgID: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || !reflect.DeepEqual(page.Items[0], clientEvent) || page.Next != "evt_0" {
		t.Errorf("ListEvents = %+v", page)
	}
	req := f.last(t)
	wantQ := url.Values{"provider": {"github"}, "event_type": {"issues.*"}, "status": {"dead"},
		"since": {"2026-01-02T15:04:05Z"}, "until": {"2026-01-02T16:04:05Z"}, "cursor": {"evt_9"}, "limit": {"50"}}
	if req.Method != "GET" || req.Path != "/api/v1/events" || !reflect.DeepEqual(req.Query, wantQ) {
		t.Errorf("request = %+v, want GET /api/v1/events?%v", req, wantQ.Encode())
	}

	// A zero filter sends no query at all.
	if _, err := c.ListEvents(ctx, relay.EventFilter{}); err != nil {
		t.Fatal(err)
	}
	if q := f.last(t).Query; len(q) != 0 {
		t.Errorf("zero filter sent %v", q)
	}

	e, err := c.GetEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Deliveries) != 1 || len(e.Deliveries[0].AttemptLog) != 1 || e.Deliveries[0].AttemptLog[0].ResponseBody != "oops" {
		t.Errorf("GetEvent = %+v", e)
	}

	ds, err := c.ReplayEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if req := f.last(t); req.Method != "POST" || req.Path != "/api/v1/events/evt_1/replay" || len(ds) != 1 {
		t.Errorf("ReplayEvent: request %+v, result %v", req, ds)
	}
}

func TestClientDeliveries(t *testing.T) {
	f, c, _ := newClientFake(t)
	ctx := context.Background()

	page, err := c.ListDeliveries(ctx, relay.DeliveryFilter{EventID: "evt_1", DestinationID: "dst_1", Status: "retrying", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != "dlv_1" || page.Next != "" {
		t.Errorf("ListDeliveries = %+v", page)
	}
	wantQ := url.Values{"event_id": {"evt_1"}, "destination_id": {"dst_1"}, "status": {"retrying"}, "limit": {"10"}}
	if req := f.last(t); req.Path != "/api/v1/deliveries" || !reflect.DeepEqual(req.Query, wantQ) {
		t.Errorf("request = %+v", req)
	}

	d, err := c.GetDelivery(ctx, "dlv_1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, clientDelivery) {
		t.Errorf("GetDelivery = %+v", d)
	}

	d, err = c.ReplayDelivery(ctx, "dlv_1")
	if err != nil {
		t.Fatal(err)
	}
	if req := f.last(t); req.Method != "POST" || req.Path != "/api/v1/deliveries/dlv_1/replay" || d.Status != relay.DeliveryPending {
		t.Errorf("ReplayDelivery: request %+v, result %+v", req, d)
	}
}

func TestClientDestinations(t *testing.T) {
	f, c, _ := newClientFake(t)
	ctx := context.Background()

	ds, err := c.ListDestinations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || !reflect.DeepEqual(ds[0], clientDestination) {
		t.Errorf("ListDestinations = %v", ds)
	}

	// Only the settable fields are sent: the server rejects id, timestamps…
	created, err := c.CreateDestination(ctx, &relay.Destination{ID: "ignored", Name: "app", URL: "http://app.internal/events",
		Providers: []string{"github"}, EventTypes: []string{"issues.*"}, MaxConcurrency: 4,
		Timeout: relay.Duration(10 * time.Second), CreatedAt: clientT0})
	if err != nil {
		t.Fatal(err)
	}
	if created.Secret != "whsec_generated" {
		t.Errorf("created secret = %q", created.Secret)
	}
	wantBody := map[string]any{"name": "app", "url": "http://app.internal/events", "providers": []any{"github"},
		"event_types": []any{"issues.*"}, "max_concurrency": float64(4), "timeout": "10s"}
	if req := f.last(t); req.Method != "POST" || req.Path != "/api/v1/destinations" || !reflect.DeepEqual(req.Body, wantBody) {
		t.Errorf("CreateDestination sent %+v, want body %v", req, wantBody)
	}

	if _, err := c.GetDestination(ctx, "dst_1"); err != nil {
		t.Fatal(err)
	}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/destinations/dst_1" {
		t.Errorf("GetDestination sent %+v", req)
	}

	d, err := c.UpdateDestination(ctx, "dst_1", map[string]any{"disabled": true})
	if err != nil {
		t.Fatal(err)
	}
	req := f.last(t)
	if req.Method != "PATCH" || req.Path != "/api/v1/destinations/dst_1" || !reflect.DeepEqual(req.Body, map[string]any{"disabled": true}) || !d.Disabled {
		t.Errorf("UpdateDestination sent %+v, got %+v", req, d)
	}

	if err := c.DeleteDestination(ctx, "dst_1"); err != nil {
		t.Fatal(err)
	}
	if req := f.last(t); req.Method != "DELETE" || req.Path != "/api/v1/destinations/dst_1" {
		t.Errorf("DeleteDestination sent %+v", req)
	}

	n, err := c.ReplayDead(ctx, "dst_1", clientT0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	req = f.last(t)
	if n != 3 || req.Method != "POST" || req.Path != "/api/v1/destinations/dst_1/replay" ||
		!reflect.DeepEqual(req.Body, map[string]any{"since": "2026-01-02T15:04:05Z"}) {
		t.Errorf("ReplayDead = %d, sent %+v", n, req)
	}
}

func TestClientErrors(t *testing.T) {
	f, c, base := newClientFake(t)
	ctx := context.Background()

	// An API error comes back as *relay.Error with the server's code and message.
	_, err := c.GetEvent(ctx, "evt_missing")
	var rerr *relay.Error
	if !errors.As(err, &rerr) || rerr.Code != relay.ENOTFOUND || rerr.Message != "No such event." {
		t.Errorf("GetEvent(missing) err = %#v", err)
	}

	// Ids are escaped into the path.
	_, _ = c.GetEvent(ctx, "a/b?c")
	if p := f.last(t).Path; p != "/api/v1/events/a%2Fb%3Fc" {
		t.Errorf("path = %q", p)
	}

	// A wrong key is EUNAUTHORIZED.
	bad := relayhttp.NewClient(base, "rk_wrong")
	if _, err := bad.ListDestinations(ctx); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Errorf("wrong key: err = %v", err)
	}

	// An answer that is not the API's (a proxy's page) is a plain error.
	proxied := relayhttp.NewClient(base+"/proxy-error", clientTestKey)
	_, err = proxied.ListEvents(ctx, relay.EventFilter{})
	if err == nil || errors.As(err, &rerr) || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("proxy error: err = %v", err)
	}
	if relay.ErrorCode(err) != relay.EINTERNAL {
		t.Errorf("proxy error code = %q", relay.ErrorCode(err))
	}

	// A server that is not there.
	gone := relayhttp.NewClient("http://127.0.0.1:1", clientTestKey)
	if _, err := gone.ListEvents(ctx, relay.EventFilter{}); err == nil || !strings.Contains(err.Error(), "relay api:") {
		t.Errorf("no server: err = %v", err)
	}

	// A cancelled context stops the call.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ListEvents(cctx, relay.EventFilter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
