package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/relayhq/relay/simulator"
)

// cliConnTestOrgKey is an org-scoped key of org acme that the fake knows
// besides the admin cliTestKey.
const cliConnTestOrgKey = "rk_cli_test_acme"

// cliConnTestAPI stands in for the orgs and connections endpoints of
// /api/v1, as cliTestAPI does for the others: canned answers in the API's
// shapes, strict JSON bodies, admin-only routes, the error format, and a
// record of the requests.
type cliConnTestAPI struct {
	url  string
	mu   sync.Mutex
	reqs []cliTestRequest
}

func cliNewConnTestAPI(t *testing.T) *cliConnTestAPI {
	t.Helper()
	api := &cliConnTestAPI{}
	org := &relay.Org{ID: "acme", Name: "Acme Inc", CreatedAt: cliTestT0}
	conn := func() *relay.Connection {
		return &relay.Connection{ID: "con_1", OrgID: "acme", Provider: "github", ExternalID: "99", AccountName: "octo",
			Status: relay.ConnectionActive, Metadata: map[string]string{"target_type": "Organization", "app_slug": "relay"},
			TokenExpiresAt: cliTestT0.Add(time.Hour), CreatedAt: cliTestT0, UpdatedAt: cliTestT0.Add(time.Minute)}
	}

	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		write(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			fail(w, 400, relay.EINVALID, "Invalid JSON body: "+err.Error())
			return false
		}
		return true
	}
	admin := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+cliTestKey {
				fail(w, 403, relay.EFORBIDDEN, "This needs an admin API key.")
				return
			}
			h(w, r)
		}
	}

	mux.HandleFunc("GET /api/v1/orgs", admin(func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, relay.Page[*relay.Org]{Items: []*relay.Org{org}})
	}))
	mux.HandleFunc("POST /api/v1/orgs", admin(func(w http.ResponseWriter, r *http.Request) {
		var o relay.Org
		if !decode(w, r, &o) {
			return
		}
		o.CreatedAt = cliTestT0
		write(w, 201, o)
	}))
	mux.HandleFunc("GET /api/v1/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("org") != "acme" {
			fail(w, 404, relay.ENOTFOUND, "org "+r.PathValue("org")+" not found")
			return
		}
		write(w, 200, org)
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/api-keys", admin(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Name == "" {
			in.Name = "org " + r.PathValue("org")
		}
		write(w, 201, map[string]any{"id": "key_1", "org_id": r.PathValue("org"), "name": in.Name,
			"created_at": cliTestT0, "key": "rk_0123456789abcdef"})
	}))
	mux.HandleFunc("POST /api/v1/orgs/{org}/connections/{provider}/authorize", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ReturnURL string `json:"return_url"`
		}
		if !decode(w, r, &in) {
			return
		}
		write(w, 200, map[string]any{"authorize_url": "https://github.example/apps/relay/installations/new?state=s1",
			"expires_at": cliTestT0.Add(10 * time.Minute)})
	})
	mux.HandleFunc("GET /api/v1/connections", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("provider") == "linear" {
			write(w, 200, relay.Page[*relay.Connection]{Items: []*relay.Connection{}})
			return
		}
		tearing := conn()
		tearing.ID, tearing.ExternalID, tearing.AccountName, tearing.Teardown = "con_2", "100", "", "revoking_token"
		write(w, 200, relay.Page[*relay.Connection]{Items: []*relay.Connection{conn(), tearing}})
	})
	mux.HandleFunc("GET /api/v1/connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "con_1" {
			fail(w, 404, relay.ENOTFOUND, "connection "+r.PathValue("id")+" not found")
			return
		}
		write(w, 200, map[string]any{"id": "con_1", "org_id": "acme", "provider": "github", "external_id": "99",
			"account_name": "octo", "status": "active", "metadata": conn().Metadata,
			"token_expires_at": cliTestT0.Add(time.Hour), "created_at": cliTestT0, "updated_at": cliTestT0,
			"resources": []*relay.Resource{
				{ConnectionID: "con_1", Provider: "github", ExternalID: "5", Kind: "repository", Name: "octo/app", CreatedAt: cliTestT0},
				{ConnectionID: "con_1", Provider: "github", ExternalID: "6", Kind: "repository", Name: "octo/\x1b[31mweb", CreatedAt: cliTestT0},
			}})
	})
	mux.HandleFunc("DELETE /api/v1/connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		c := conn()
		c.ID = r.PathValue("id")
		if c.ID == "con_gone" {
			deleted := cliTestT0.Add(time.Hour)
			c.Status, c.Teardown, c.DeletedAt = relay.ConnectionDeleted, "done", &deleted
		} else {
			c.Teardown = "pending"
		}
		write(w, 202, c)
	})
	mux.HandleFunc("GET /api/v1/connections/{id}/token", func(w http.ResponseWriter, r *http.Request) {
		expires := time.Now().Add(time.Hour + 30*time.Second).UTC()
		if r.PathValue("id") == "con_forever" {
			expires = time.Time{}
		}
		write(w, 200, map[string]any{"access_token": "ghs_token", "token_type": "bearer", "expires_at": expires})
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, 404, relay.ENOTFOUND, "No such endpoint.")
	})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := cliTestRequest{Method: r.Method, Path: r.URL.EscapedPath(), Auth: r.Header.Get("Authorization"), Query: r.URL.Query()}
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
		if req.Auth != "Bearer "+cliTestKey && req.Auth != "Bearer "+cliConnTestOrgKey {
			fail(w, 401, relay.EUNAUTHORIZED, "Invalid API key.")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api.url = srv.URL
	return api
}

func (a *cliConnTestAPI) requests() []cliTestRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]cliTestRequest(nil), a.reqs...)
}

// last returns the last request, failing the test when there was none.
func (a *cliConnTestAPI) last(t *testing.T) cliTestRequest {
	t.Helper()
	reqs := a.requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the API")
	}
	return reqs[len(reqs)-1]
}

// cliConnTestRun runs `relay args…` through run, as main does (so the
// commands' registration is tested too), with RELAY_URL pointing at api
// (when not nil) and RELAY_API_KEY set, unless env overrides them.
func cliConnTestRun(t *testing.T, api *cliConnTestAPI, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	vars := map[string]string{"RELAY_API_KEY": cliTestKey}
	if api != nil {
		vars["RELAY_URL"] = api.url
	}
	for k, v := range env {
		vars[k] = v
	}
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"relay"}, args...), func(k string) string { return vars[k] },
		strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// cliCheckRequest fails unless req is method path with body (nil: none)
// and the admin key.
func cliCheckRequest(t *testing.T, what string, req cliTestRequest, method, path string, body map[string]any) {
	t.Helper()
	if req.Method != method || req.Path != path || req.Auth != "Bearer "+cliTestKey || !reflect.DeepEqual(req.Body, body) {
		t.Errorf("%s sent %s %s %v (auth %q), want %s %s %v", what, req.Method, req.Path, req.Body, req.Auth, method, path, body)
	}
}

func TestCLIOrgs(t *testing.T) {
	api := cliNewConnTestAPI(t)

	out, _, err := cliConnTestRun(t, api, nil, "orgs", "ls")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs ls", api.last(t), "GET", "/api/v1/orgs", nil)
	cliTestContains(t, "orgs ls", out, "ID", "NAME", "CREATED", "acme", "Acme Inc", "2026-01-02T15:04:05Z")

	out, _, err = cliConnTestRun(t, api, nil, "orgs", "show", "acme")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs show", api.last(t), "GET", "/api/v1/orgs/acme", nil)
	cliTestContains(t, "orgs show", out, "ID", "acme", "Name", "Acme Inc", "Created")

	// Flags may follow the id.
	out, _, err = cliConnTestRun(t, api, nil, "orgs", "add", "globex", "--name", "Globex Corp")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs add", api.last(t), "POST", "/api/v1/orgs", map[string]any{"id": "globex", "name": "Globex Corp"})
	cliTestContains(t, "orgs add", out, "Created org globex.", "Globex Corp", "relay orgs key globex", "relay connect globex PROVIDER")

	if _, _, err = cliConnTestRun(t, api, nil, "orgs", "add", "initech"); err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs add without --name", api.last(t), "POST", "/api/v1/orgs", map[string]any{"id": "initech"})
}

func TestCLIOrgsKey(t *testing.T) {
	api := cliNewConnTestAPI(t)

	// The key alone on stdout, so that scripts can capture it; the warning on stderr.
	out, errOut, err := cliConnTestRun(t, api, nil, "orgs", "key", "acme", "--name", "ci")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs key", api.last(t), "POST", "/api/v1/orgs/acme/api-keys", map[string]any{"name": "ci"})
	if out != "rk_0123456789abcdef\n" {
		t.Errorf("orgs key stdout = %q, want the key alone", out)
	}
	cliTestContains(t, "orgs key stderr", errOut, "key_1", "ci", "acme", "shown only now")

	// Without --name the server names it; --json has the key too.
	out, errOut, err = cliConnTestRun(t, api, nil, "orgs", "key", "acme", "--json")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "orgs key without --name", api.last(t), "POST", "/api/v1/orgs/acme/api-keys", map[string]any{})
	var k struct {
		ID, OrgID, Name, Key string
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.ID != "key_1" || k.Name != "org acme" || k.Key != "rk_0123456789abcdef" ||
		!strings.Contains(out, `"org_id": "acme"`) {
		t.Errorf("orgs key --json = %s (%v)", out, err)
	}
	cliTestContains(t, "orgs key --json stderr", errOut, "shown only now")

	// An org key cannot make keys.
	out, _, err = cliConnTestRun(t, api, map[string]string{"RELAY_API_KEY": cliConnTestOrgKey}, "orgs", "key", "acme")
	if err == nil || relay.ErrorCode(err) != relay.EFORBIDDEN || !strings.Contains(err.Error(), "needs an admin API key") || out != "" {
		t.Errorf("orgs key with an org key: %q, %v", out, err)
	}
}

func TestCLIConnectionsLs(t *testing.T) {
	api := cliNewConnTestAPI(t)

	out, _, err := cliConnTestRun(t, api, nil, "connections", "ls", "--provider", "github", "--org", "acme", "--all")
	if err != nil {
		t.Fatal(err)
	}
	req := api.last(t)
	cliCheckRequest(t, "connections ls", req, "GET", "/api/v1/connections", nil)
	if want := (url.Values{"provider": {"github"}, "org_id": {"acme"}, "include_deleted": {"true"}}); !reflect.DeepEqual(req.Query, want) {
		t.Errorf("connections ls query = %v, want %v", req.Query, want)
	}
	cliTestContains(t, "connections ls", out, "ID", "ORG", "PROVIDER", "ACCOUNT", "STATUS", "UPDATED",
		"con_1", "acme", "github", "99 (octo)", "active", "2026-01-02T15:05:05Z",
		"con_2", "active, teardown revoking_token")

	// No flags, no query.
	if _, _, err := cliConnTestRun(t, api, nil, "connections", "ls"); err != nil {
		t.Fatal(err)
	}
	if q := api.last(t).Query; len(q) != 0 {
		t.Errorf("connections ls sent %v", q)
	}

	out, _, err = cliConnTestRun(t, api, nil, "connections", "ls", "--provider", "linear")
	if err != nil || !strings.Contains(out, "No connections.") {
		t.Errorf("empty connections ls: %q, %v", out, err)
	}

	out, _, err = cliConnTestRun(t, api, nil, "connections", "ls", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var page relay.Page[*relay.Connection]
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Items) != 2 || page.Items[1].Teardown != "revoking_token" {
		t.Errorf("connections ls --json = %s (%v)", out, err)
	}
}

func TestCLIConnectionsShow(t *testing.T) {
	api := cliNewConnTestAPI(t)

	out, _, err := cliConnTestRun(t, api, nil, "connections", "show", "con_1")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "connections show", api.last(t), "GET", "/api/v1/connections/con_1", nil)
	cliTestContains(t, "connections show", out,
		"con_1", "acme", "github", "99 (octo)", "active", "2026-01-02T16:04:05Z", // the connection
		"app_slug=relay target_type=Organization", // its metadata, sorted
		"Resources (2):", "KIND", "5", "repository", "octo/app", "octo/ [31mweb", // its resources
	)
	if strings.Contains(out, "\x1b") {
		t.Error("a terminal escape from the server went into the table")
	}

	out, _, err = cliConnTestRun(t, api, nil, "connections", "show", "--json", "con_1")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ID        string            `json:"id"`
		Metadata  map[string]string `json:"metadata"`
		Resources []*relay.Resource `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID != "con_1" || len(v.Metadata) != 2 || len(v.Resources) != 2 ||
		v.Resources[0].Name != "octo/app" {
		t.Errorf("connections show --json = %s (%v)", out, err)
	}

	// A 404 reads as the API's message and code, and keeps the *relay.Error.
	_, _, err = cliConnTestRun(t, api, nil, "connections", "show", "con_nope")
	if err == nil || err.Error() != "connections show: connection con_nope not found (not_found)" || relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("connections show con_nope: err = %v", err)
	}
}

func TestCLIConnectionsToken(t *testing.T) {
	api := cliNewConnTestAPI(t)

	out, errOut, err := cliConnTestRun(t, api, nil, "connections", "token", "con_1")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "connections token", api.last(t), "GET", "/api/v1/connections/con_1/token", nil)
	if out != "ghs_token\n" {
		t.Errorf("connections token stdout = %q, want the token alone", out)
	}
	cliTestContains(t, "connections token stderr", errOut, "expires at 20", "(in 1h0m") // the CLI's clock is the real one

	_, errOut, err = cliConnTestRun(t, api, nil, "connections", "token", "con_forever")
	if err != nil || !strings.Contains(errOut, "does not expire") {
		t.Errorf("token without expiry: stderr %q, %v", errOut, err)
	}

	out, _, err = cliConnTestRun(t, api, nil, "connections", "token", "con_1", "--json")
	var tok relay.Token
	if err != nil || json.Unmarshal([]byte(out), &tok) != nil || tok.AccessToken != "ghs_token" || tok.TokenType != "bearer" || tok.ExpiresAt.IsZero() {
		t.Errorf("connections token --json = %s (%v)", out, err)
	}
}

func TestCLIConnectionsRm(t *testing.T) {
	api := cliNewConnTestAPI(t)

	out, _, err := cliConnTestRun(t, api, nil, "connections", "rm", "con_1")
	if err != nil {
		t.Fatal(err)
	}
	cliCheckRequest(t, "connections rm", api.last(t), "DELETE", "/api/v1/connections/con_1", nil)
	cliTestContains(t, "connections rm", out, "Teardown of con_1 started", "status active", "teardown pending",
		"relay connections show con_1")

	out, _, err = cliConnTestRun(t, api, nil, "connections", "rm", "con_gone")
	if err != nil || !strings.Contains(out, "con_gone was already torn down (2026-01-02T16:04:05Z)") {
		t.Errorf("rm of a torn-down connection: %q, %v", out, err)
	}

	out, _, err = cliConnTestRun(t, api, nil, "connections", "rm", "--json", "con_1")
	var c relay.Connection
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c.ID != "con_1" || c.Teardown != "pending" {
		t.Errorf("connections rm --json = %s (%v)", out, err)
	}
}

func TestCLIConnect(t *testing.T) {
	api := cliNewConnTestAPI(t)
	const authURL = "https://github.example/apps/relay/installations/new?state=s1"

	// relay connect and relay connections connect are the same verb; the
	// org's own key may start its flows.
	for _, cmd := range [][]string{{"connect"}, {"connections", "connect"}} {
		args := append(cmd, "acme", "github", "--return-url", "https://app.example/done?tab=1")
		out, errOut, err := cliConnTestRun(t, api, map[string]string{"RELAY_API_KEY": cliConnTestOrgKey}, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		req := api.last(t)
		if req.Method != "POST" || req.Path != "/api/v1/orgs/acme/connections/github/authorize" || req.Auth != "Bearer "+cliConnTestOrgKey ||
			!reflect.DeepEqual(req.Body, map[string]any{"return_url": "https://app.example/done?tab=1"}) {
			t.Errorf("%v sent %+v", args, req)
		}
		if out != authURL+"\n" {
			t.Errorf("%v stdout = %q, want the URL alone", args, out)
		}
		cliTestContains(t, strings.Join(args, " ")+" stderr", errOut, "Open this URL", "github", "acme", "2026-01-02T15:14:05Z")
	}

	out, _, err := cliConnTestRun(t, api, nil, "connect", "acme", "github", "--return-url", "https://app.example/", "--json")
	var v struct {
		AuthorizeURL string    `json:"authorize_url"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.AuthorizeURL != authURL || !v.ExpiresAt.Equal(cliTestT0.Add(10*time.Minute)) {
		t.Errorf("connect --json = %s (%v)", out, err)
	}

	// Org and provider are escaped into the path.
	if _, _, err := cliConnTestRun(t, api, nil, "connect", "team:a/b", "github", "--return-url", "https://app.example/"); err != nil {
		t.Fatal(err)
	}
	if p := api.last(t).Path; p != "/api/v1/orgs/team:a%2Fb/connections/github/authorize" {
		t.Errorf("path = %q", p)
	}
}

func TestCLIConnectionsUsageErrors(t *testing.T) {
	api := cliNewConnTestAPI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"orgs"}, "orgs: missing sub-command: want one of ls, show, add, key"},
		{[]string{"connections", "list"}, `connections: unknown sub-command "list": want one of ls, show, token, rm, connect`},
		{[]string{"orgs", "show"}, "orgs show: want 1 argument (ORG), got 0"},
		{[]string{"orgs", "add", "a", "b"}, "got 2"},
		{[]string{"connections", "token"}, "connections token: want 1 argument (ID), got 0"},
		{[]string{"connect", "acme"}, "connections connect: want 2 argument (ORG PROVIDER), got 1"},
		{[]string{"connect", "acme", "github"}, "connections connect: --return-url is required"},
		{[]string{"connections", "ls", "--deleted"}, "flag provided but not defined: -deleted"},
	} {
		_, _, err := cliConnTestRun(t, api, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}
}

func TestCLIConnectionsHelp(t *testing.T) {
	groups := map[string][]string{
		"orgs":        {"ls", "show", "add", "key"},
		"connections": {"ls", "show", "token", "rm", "connect"},
	}
	// No key is needed for help, and there is no API to send anything to.
	noKey := map[string]string{"RELAY_API_KEY": ""}
	for group, verbs := range groups {
		for _, h := range []string{"--help", "-h", "help"} {
			out, _, err := cliConnTestRun(t, nil, noKey, group, h)
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
				out, _, err := cliConnTestRun(t, nil, noKey, group, v, h)
				if err != nil {
					t.Errorf("%s %s %s: %v", group, v, h, err)
				}
				cliTestContains(t, group+" "+v+" "+h, out, "Usage: relay "+group+" "+v, "Flags:", "--api-key", "--url", "--json")
			}
		}
	}
	for _, h := range []string{"--help", "-h"} {
		out, _, err := cliConnTestRun(t, nil, noKey, "connect", h)
		if err != nil {
			t.Errorf("connect %s: %v", h, err)
		}
		cliTestContains(t, "connect "+h, out, "Usage: relay connections connect ORG PROVIDER [flags]",
			"'relay connect ORG PROVIDER' is short for this", "--return-url URL", "github, linear, sentry, vercel")
	}
	out, _, _ := cliConnTestRun(t, nil, noKey, "connections", "ls", "--help")
	cliTestContains(t, "connections ls --help", out, "--provider provider", "--org", "--all")
	out, _, _ = cliConnTestRun(t, nil, noKey, "orgs", "key", "--help")
	cliTestContains(t, "orgs key --help", out, "--name", "shown only this once")

	// relay --help lists the commands.
	out, _, err := cliConnTestRun(t, nil, noKey, "--help")
	if err != nil {
		t.Fatal(err)
	}
	cliTestContains(t, "relay --help", out, "\n  orgs ", "\n  connections ", "\n  connect ")
}

// TestCLIConnectionsEndToEnd drives relay orgs, relay connect and relay
// connections against a running Relay and the GitHub simulator.
func TestCLIConnectionsEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 99, Login: "octo", Repos: []simulator.GitHubRepo{{ID: 5, FullName: "octo/app"}}})
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: s
%s
`, testAdminKey, githubAppYAML(sim))
	base := startRelay(t, cfg, nil).url
	cli := func(key string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		env := func(k string) string {
			switch k {
			case "RELAY_URL":
				return base
			case "RELAY_API_KEY":
				return key
			}
			return ""
		}
		err := run(context.Background(), append([]string{"relay"}, args...), env, strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	if out, _, err := cli(testAdminKey, "orgs", "add", "acme", "--name", "Acme Inc"); err != nil || !strings.Contains(out, "Created org acme") {
		t.Fatalf("orgs add: %q %v", out, err)
	}
	if out, _, err := cli(testAdminKey, "orgs", "ls"); err != nil || !strings.Contains(out, "Acme Inc") {
		t.Fatalf("orgs ls: %q %v", out, err)
	}
	orgKey, stderr, err := cli(testAdminKey, "orgs", "key", "acme")
	orgKey = strings.TrimSpace(orgKey)
	if err != nil || !strings.HasPrefix(orgKey, "rk_") || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("orgs key: %q %q %v", orgKey, stderr, err)
	}
	if _, _, err := cli(orgKey, "orgs", "ls"); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("an org key listed orgs: %v", err)
	}

	// The org's own key starts its connect flow.
	authURL, _, err := cli(orgKey, "connect", "acme", "github", "--return-url", "https://app.example/done")
	if err != nil {
		t.Fatal(err)
	}
	// The printed URL is Relay's start link; the browser that opens it finishes the flow.
	u, _ := url.Parse(browserFor(t, base).open(t, strings.TrimSpace(authURL)))
	q := followCallback(t, base, sim.InstallRedirect(base+"/oauth/github/callback", u.Query().Get("state"), 99, "install"))
	id := q.Get("connection_id")

	if out, _, err := cli(orgKey, "connections", "ls"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "99 (octo)") {
		t.Fatalf("connections ls: %q %v", out, err)
	}
	if out, _, err := cli(orgKey, "connections", "show", id); err != nil || !strings.Contains(out, "octo/app") || !strings.Contains(out, "active") {
		t.Fatalf("connections show: %q %v", out, err)
	}
	tok, _, err := cli(orgKey, "connections", "token", id)
	if err != nil || !sim.ValidToken(strings.TrimSpace(tok)) {
		t.Fatalf("connections token: %q %v", tok, err)
	}
	if out, _, err := cli(orgKey, "connections", "rm", id); err != nil || !strings.Contains(out, "Teardown of "+id+" started") {
		t.Fatalf("connections rm: %q %v", out, err)
	}
	if _, _, err := cli(orgKey, "connections", "show", "con_missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("show missing: %v", err)
	}
	if out, _, err := cli(testAdminKey, "connections", "--help"); err != nil || !strings.Contains(out, "connect") {
		t.Fatalf("help: %q %v", out, err)
	}
}
