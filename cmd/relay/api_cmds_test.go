package main

import (
	"bytes"
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
)

const cliTestKey = "rk_cli_test"

var cliTestT0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// cliTestRequest is what the fake API saw of one request.
type cliTestRequest struct {
	Method, Path, Auth string
	Query              url.Values
	Body               map[string]any
}

// cliTestAPI is a stand-in for Relay's /api/v1 written for these tests
// alone: canned answers in the API's JSON shapes, bearer auth, the error
// format, and a record of the requests.
type cliTestAPI struct {
	url  string
	mu   sync.Mutex
	reqs []cliTestRequest
}

func cliNewTestAPI(t *testing.T) *cliTestAPI {
	t.Helper()
	api := &cliTestAPI{}
	attempt := func(n, status int, errText string) *relay.Attempt {
		return &relay.Attempt{DeliveryID: "dlv_1", N: n, StartedAt: cliTestT0.Add(time.Duration(n) * time.Second),
			StatusCode: status, Latency: relay.Duration(250 * time.Millisecond), Error: errText, ResponseBody: "upstream\tsays\nno"}
	}
	delivery := func() *relay.Delivery {
		return &relay.Delivery{ID: "dlv_1", EventID: "evt_1", DestinationID: "dst_1", Status: relay.DeliveryRetrying,
			Source: relay.SourceLive, Attempts: 2, NextAttemptAt: cliTestT0.Add(5 * time.Minute), LastStatus: 503,
			LastError: "HTTP 503", CreatedAt: cliTestT0, UpdatedAt: cliTestT0,
			AttemptLog: []*relay.Attempt{attempt(1, 0, "dial tcp: connection refused"), attempt(2, 503, "HTTP 503")}}
	}
	event := &relay.Event{ID: "evt_1", Provider: "github", DeliveryID: "gh-1", EventType: "issues.opened",
		Source: relay.SourceLive, OrgID: "org_a", Payload: json.RawMessage(`{"action":"opened"}`), ReceivedAt: cliTestT0}
	dest := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://app.internal/events", Providers: []string{"github"},
		MaxConcurrency: 32, Timeout: relay.Duration(15 * time.Second), CreatedAt: cliTestT0, UpdatedAt: cliTestT0}

	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		write(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, relay.Page[*relay.Event]{Items: []*relay.Event{event}, Next: "evt_0"})
	})
	mux.HandleFunc("GET /api/v1/events/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "evt_1" {
			fail(w, 404, relay.ENOTFOUND, "Event not found.")
			return
		}
		e := *event
		e.Deliveries = []*relay.Delivery{delivery()}
		write(w, 200, e)
	})
	mux.HandleFunc("POST /api/v1/events/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		d := delivery()
		d.Status, d.Source, d.AttemptLog = relay.DeliveryPending, relay.SourceReplay, nil
		write(w, 202, relay.Page[*relay.Delivery]{Items: []*relay.Delivery{d}})
	})
	mux.HandleFunc("GET /api/v1/deliveries", func(w http.ResponseWriter, r *http.Request) {
		d := delivery()
		d.AttemptLog = nil
		write(w, 200, relay.Page[*relay.Delivery]{Items: []*relay.Delivery{d}})
	})
	mux.HandleFunc("GET /api/v1/deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, delivery())
	})
	mux.HandleFunc("POST /api/v1/deliveries/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		d := delivery()
		d.Status, d.Source = relay.DeliveryPending, relay.SourceReplay
		write(w, 202, d)
	})
	mux.HandleFunc("GET /api/v1/destinations", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, relay.Page[*relay.Destination]{Items: []*relay.Destination{dest}})
	})
	mux.HandleFunc("GET /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, dest)
	})
	mux.HandleFunc("POST /api/v1/destinations", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		d := *dest
		d.ID, d.Name, d.URL, d.Secret = "dst_2", in["name"].(string), in["url"].(string), "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
		write(w, 201, d)
	})
	mux.HandleFunc("PATCH /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		d := *dest
		d.Disabled, _ = in["disabled"].(bool)
		write(w, 200, d)
	})
	mux.HandleFunc("DELETE /api/v1/destinations/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /api/v1/destinations/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		write(w, 202, map[string]int{"replayed": 7})
	})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := cliTestRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Query: r.URL.Query()}
		if r.ContentLength > 0 {
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &req.Body); err != nil {
				t.Errorf("%s %s: body %q is not a JSON object", r.Method, r.URL.Path, b)
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		api.mu.Lock()
		api.reqs = append(api.reqs, req)
		api.mu.Unlock()
		if req.Auth != "Bearer "+cliTestKey {
			fail(w, 401, relay.EUNAUTHORIZED, "Invalid API key.")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api.url = srv.URL
	return api
}

func (a *cliTestAPI) requests() []cliTestRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]cliTestRequest(nil), a.reqs...)
}

// last returns the last request, failing the test when there was none.
func (a *cliTestAPI) last(t *testing.T) cliTestRequest {
	t.Helper()
	reqs := a.requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the API")
	}
	return reqs[len(reqs)-1]
}

// cliTestRun runs one API command (args[0] is the group) with RELAY_URL
// pointing at api and RELAY_API_KEY set, unless env overrides them.
func cliTestRun(t *testing.T, api *cliTestAPI, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	vars := map[string]string{"RELAY_URL": api.url, "RELAY_API_KEY": cliTestKey}
	for k, v := range env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	cmds := map[string]func(context.Context, []string, func(string) string, io.Writer, io.Writer) error{
		"events": cmdEvents, "deliveries": cmdDeliveries, "destinations": cmdDestinations,
	}
	var out, errOut bytes.Buffer
	err = cmds[args[0]](context.Background(), args[1:], getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// cliTestContains fails unless s contains every one of want.
func cliTestContains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func TestCLIEventsLs(t *testing.T) {
	api := cliNewTestAPI(t)
	before := time.Now()
	out, _, err := cliTestRun(t, api, nil, "events", "ls", "--provider", "github", "--type", "issues.*",
		"--status", "dead", "--since", "2h", "--until", "2026-01-03T00:00:00Z", "--limit", "5", "--cursor", "evt_9")
	if err != nil {
		t.Fatal(err)
	}
	cliTestContains(t, "ls output", out, "ID", "PROVIDER", "TYPE", "RECEIVED",
		"evt_1", "github", "issues.opened", "2026-01-02T15:04:05Z", "--cursor evt_0")

	req := api.last(t)
	if req.Method != "GET" || req.Path != "/api/v1/events" || req.Auth != "Bearer "+cliTestKey {
		t.Errorf("request = %+v", req)
	}
	q := req.Query
	for k, want := range map[string]string{"provider": "github", "event_type": "issues.*", "status": "dead",
		"until": "2026-01-03T00:00:00Z", "limit": "5", "cursor": "evt_9"} {
		if q.Get(k) != want {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want)
		}
	}
	since, err := time.Parse(time.RFC3339Nano, q.Get("since"))
	if err != nil {
		t.Fatalf("since %q: %v", q.Get("since"), err)
	}
	if lo, hi := before.Add(-2*time.Hour-time.Second), time.Now().Add(-2*time.Hour+time.Second); since.Before(lo) || since.After(hi) {
		t.Errorf("--since 2h sent %s, want about now-2h", since)
	}
}

func TestCLIEventsShow(t *testing.T) {
	api := cliNewTestAPI(t)
	// Flags may follow the id.
	out, _, err := cliTestRun(t, api, nil, "events", "show", "evt_1", "--payload")
	if err != nil {
		t.Fatal(err)
	}
	if p := api.last(t).Path; p != "/api/v1/events/evt_1" {
		t.Errorf("path = %q", p)
	}
	cliTestContains(t, "show output", out,
		"evt_1", "issues.opened", "gh-1", "org_a", `"action": "opened"`, // the event, its payload
		"Deliveries (1)", "dlv_1", "dst_1", "retrying", // its delivery
		"Attempts of dlv_1", "dial tcp: connection refused", "503", "250ms", "upstream says no", // its attempts
	)
	if strings.Contains(out, "upstream\tsays") {
		t.Error("a tab from the server went into the table unescaped")
	}

	// --json prints the API's JSON, indented.
	out, _, err = cliTestRun(t, api, nil, "events", "show", "--json", "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	var e relay.Event
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("--json output is not an event: %v\n%s", err, out)
	}
	if e.ID != "evt_1" || len(e.Deliveries) != 1 || len(e.Deliveries[0].AttemptLog) != 2 || !strings.Contains(out, "\n  \"id\"") {
		t.Errorf("--json output = %s", out)
	}

	// An API error reads as its message and code, and keeps the *relay.Error.
	_, _, err = cliTestRun(t, api, nil, "events", "show", "evt_nope")
	if err == nil || err.Error() != "events show: Event not found. (not_found)" || relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("err = %v", err)
	}
}

func TestCLIDeliveries(t *testing.T) {
	api := cliNewTestAPI(t)
	out, _, err := cliTestRun(t, api, nil, "deliveries", "ls", "--event", "evt_1", "--destination", "dst_1", "--status", "retrying")
	if err != nil {
		t.Fatal(err)
	}
	cliTestContains(t, "ls output", out, "STATUS", "ATTEMPTS", "dlv_1", "evt_1", "dst_1", "retrying", "HTTP 503", "2026-01-02T15:09:05Z")
	q := api.last(t).Query
	if q.Get("event_id") != "evt_1" || q.Get("destination_id") != "dst_1" || q.Get("status") != "retrying" {
		t.Errorf("query = %v", q)
	}

	out, _, err = cliTestRun(t, api, nil, "deliveries", "show", "dlv_1")
	if err != nil {
		t.Fatal(err)
	}
	cliTestContains(t, "show output", out, "dlv_1", "Attempts:", "connection refused", "HTTP 503", "250ms")
	if p := api.last(t).Path; p != "/api/v1/deliveries/dlv_1" {
		t.Errorf("path = %q", p)
	}
}

func TestCLIReplays(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		method, path string
		body         map[string]any
		out          string
	}{
		{args: []string{"events", "replay", "evt_1"}, method: "POST", path: "/api/v1/events/evt_1/replay", out: "1 delivery due now"},
		{args: []string{"deliveries", "replay", "dlv_1"}, method: "POST", path: "/api/v1/deliveries/dlv_1/replay", out: "dlv_1 is due again now (status pending)"},
		{args: []string{"destinations", "replay-dead", "dst_1"}, method: "POST", path: "/api/v1/destinations/dst_1/replay", out: "Replaying 7 dead deliveries"},
		{args: []string{"destinations", "replay-dead", "dst_1", "--since", "2026-01-01", "--until", "2026-01-02T00:00:00Z"},
			method: "POST", path: "/api/v1/destinations/dst_1/replay",
			body: map[string]any{"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}, out: "7 dead deliveries"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			api := cliNewTestAPI(t)
			out, _, err := cliTestRun(t, api, nil, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			req := api.last(t)
			if req.Method != tc.method || req.Path != tc.path {
				t.Errorf("request %s %s, want %s %s", req.Method, req.Path, tc.method, tc.path)
			}
			if tc.body != nil && !reflect.DeepEqual(req.Body, tc.body) {
				t.Errorf("body = %v, want %v", req.Body, tc.body)
			}
			cliTestContains(t, "output", out, tc.out)
		})
	}
}

func TestCLIDestinations(t *testing.T) {
	api := cliNewTestAPI(t)

	out, _, err := cliTestRun(t, api, nil, "destinations", "ls")
	if err != nil {
		t.Fatal(err)
	}
	cliTestContains(t, "ls output", out, "NAME", "URL", "dst_1", "app", "http://app.internal/events", "enabled", "github", "15s")

	// add sends the settable fields as JSON, and prints the secret once.
	out, _, err = cliTestRun(t, api, nil, "destinations", "add", "--name", "billing", "--url", "https://billing.example.com/hook",
		"--provider", "github", "--provider", "linear", "--event-type", "issues.*", "--max-concurrency", "4", "--timeout", "10s")
	if err != nil {
		t.Fatal(err)
	}
	req := api.last(t)
	want := map[string]any{"name": "billing", "url": "https://billing.example.com/hook", "providers": []any{"github", "linear"},
		"event_types": []any{"issues.*"}, "max_concurrency": float64(4), "timeout": "10s"}
	if req.Method != "POST" || req.Path != "/api/v1/destinations" || !reflect.DeepEqual(req.Body, want) {
		t.Errorf("add sent %s %s %v, want body %v", req.Method, req.Path, req.Body, want)
	}
	cliTestContains(t, "add output", out, "dst_2", "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "shown only now")

	// --secret is passed on; --relay-url is Relay's address here.
	_, _, err = cliTestRun(t, api, map[string]string{"RELAY_URL": "http://127.0.0.1:1"}, "destinations", "add",
		"--relay-url", api.url, "--name", "x", "--url", "http://x/", "--secret", "whsec_given")
	if err != nil {
		t.Fatal(err)
	}
	if b := api.last(t).Body; b["secret"] != "whsec_given" || b["url"] != "http://x/" {
		t.Errorf("add --secret sent %v", b)
	}

	_, _, err = cliTestRun(t, api, nil, "destinations", "add", "--url", "http://x/")
	if err == nil || !strings.Contains(err.Error(), "--name and --url are required") {
		t.Errorf("add without --name: err = %v", err)
	}

	for _, tc := range []struct {
		verb     string
		disabled bool
		out      string
	}{{"disable", true, "is disabled"}, {"enable", false, "is enabled"}} {
		out, _, err = cliTestRun(t, api, nil, "destinations", tc.verb, "dst_1")
		if err != nil {
			t.Fatal(err)
		}
		req := api.last(t)
		if req.Method != "PATCH" || req.Path != "/api/v1/destinations/dst_1" || !reflect.DeepEqual(req.Body, map[string]any{"disabled": tc.disabled}) {
			t.Errorf("%s sent %+v", tc.verb, req)
		}
		cliTestContains(t, tc.verb+" output", out, tc.out)
	}

	out, _, err = cliTestRun(t, api, nil, "destinations", "rm", "dst_1")
	if err != nil {
		t.Fatal(err)
	}
	if req := api.last(t); req.Method != "DELETE" || req.Path != "/api/v1/destinations/dst_1" {
		t.Errorf("rm sent %+v", req)
	}
	cliTestContains(t, "rm output", out, "Deleted destination dst_1")
}

func TestCLIAPIKeyAndURL(t *testing.T) {
	api := cliNewTestAPI(t)

	// No key: a clear error, and nothing is sent.
	_, _, err := cliTestRun(t, api, map[string]string{"RELAY_API_KEY": ""}, "events", "ls")
	if err == nil || !strings.Contains(err.Error(), "--api-key") || !strings.Contains(err.Error(), "RELAY_API_KEY") {
		t.Errorf("err = %v", err)
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests without a key", n)
	}

	// --api-key and --url win over the environment.
	_, _, err = cliTestRun(t, api, map[string]string{"RELAY_API_KEY": "rk_wrong", "RELAY_URL": "http://127.0.0.1:1"},
		"events", "ls", "--api-key", cliTestKey, "--url", api.url)
	if err != nil {
		t.Fatal(err)
	}

	// A wrong key says where keys come from.
	_, _, err = cliTestRun(t, api, map[string]string{"RELAY_API_KEY": "rk_wrong"}, "destinations", "ls")
	if err == nil || relay.ErrorCode(err) != relay.EUNAUTHORIZED || !strings.Contains(err.Error(), "check --api-key") {
		t.Errorf("err = %v", err)
	}
}

func TestCLIHelp(t *testing.T) {
	groups := map[string][]string{
		"events":       {"ls", "show", "replay"},
		"deliveries":   {"ls", "show", "replay"},
		"destinations": {"ls", "show", "add", "rm", "enable", "disable", "replay-dead"},
	}
	for group, verbs := range groups {
		for _, h := range []string{"--help", "-h", "help"} {
			out, _, err := cliTestRun(t, &cliTestAPI{}, nil, group, h)
			if err != nil {
				t.Errorf("%s %s: %v", group, h, err)
			}
			cliTestContains(t, group+" "+h, out, "Usage: relay "+group)
			for _, v := range verbs {
				cliTestContains(t, group+" "+h, out, "  "+v+" ")
			}
		}
		for _, v := range verbs {
			for _, h := range []string{"--help", "-h"} {
				// No key is needed for help, and nothing is sent.
				out, _, err := cliTestRun(t, &cliTestAPI{}, map[string]string{"RELAY_API_KEY": ""}, group, v, h)
				if err != nil {
					t.Errorf("%s %s %s: %v", group, v, h, err)
				}
				cliTestContains(t, group+" "+v+" "+h, out, "Usage: relay "+group+" "+v, "Flags:", "--api-key")
			}
		}
	}
	out, _, _ := cliTestRun(t, &cliTestAPI{}, nil, "destinations", "add", "--help")
	cliTestContains(t, "add --help", out, "--relay-url", "--provider provider", "(repeatable)", "--timeout duration")
	out, _, _ = cliTestRun(t, &cliTestAPI{}, nil, "events", "ls", "--help")
	cliTestContains(t, "ls --help", out, "--url", "RELAY_URL", "--since time", "--json")
}

func TestCLIUsageErrors(t *testing.T) {
	api := cliNewTestAPI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events"}, "events: missing sub-command: want one of ls, show, replay"},
		{[]string{"events", "list"}, `events: unknown sub-command "list": want one of ls, show, replay`},
		{[]string{"destinations", "delete", "x"}, "want one of ls, show, add, rm, enable, disable, replay-dead"},
		{[]string{"events", "show"}, "events show: want 1 argument (ID), got 0"},
		{[]string{"deliveries", "replay", "a", "b"}, "got 2"},
		{[]string{"events", "ls", "extra"}, `events ls: unexpected argument "extra"`},
		{[]string{"events", "ls", "--bogus"}, "events ls: flag provided but not defined: -bogus"},
		{[]string{"events", "ls", "--since", "yesterday"}, `invalid value "yesterday" for flag -since`},
		{[]string{"destinations", "add", "--name", "x", "--url", "http://x/", "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
	} {
		_, _, err := cliTestRun(t, api, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}
}

func TestCLIParseTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2h", now.Add(-2 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0s", now},
		{"2026-01-02T15:04:05Z", cliTestT0},
		{"2026-01-02T16:04:05+01:00", cliTestT0},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := cliParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("cliParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-2h", "2x", "d"} {
		if _, err := cliParseTime(bad, now); err == nil {
			t.Errorf("cliParseTime(%q) succeeded", bad)
		}
	}
}

func TestCLIParseMixedArgs(t *testing.T) {
	api := cliNewTestAPI(t)
	// Everything after -- is positional, even if it looks like a flag.
	_, _, err := cliTestRun(t, api, nil, "events", "show", "--json", "--", "--evt")
	var re *relay.Error
	if !errors.As(err, &re) || re.Code != relay.ENOTFOUND {
		t.Errorf("err = %v", err)
	}
	if p := api.last(t).Path; p != "/api/v1/events/--evt" {
		t.Errorf("path = %q", p)
	}
}
