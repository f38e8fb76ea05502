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

var (
	clientOrg        = &relay.Org{ID: "acme", Name: "Acme Inc", CreatedAt: clientT0}
	clientConnection = &relay.Connection{ID: "con_1", OrgID: "acme", Provider: "github", ExternalID: "99",
		AccountName: "octo", Status: relay.ConnectionActive, Metadata: map[string]string{"target_type": "Organization"},
		TokenExpiresAt: clientT0.Add(time.Hour), CreatedAt: clientT0, UpdatedAt: clientT0}
	clientResource = &relay.Resource{ConnectionID: "con_1", Provider: "github", ExternalID: "5", Kind: "repository",
		Name: "octo/app", CreatedAt: clientT0}
)

// clientConnFake mimics the orgs and connections endpoints as the server
// answers them (connections.go): strict JSON bodies, the admin-only routes,
// the shapes of the answers and the error format. It records the requests.
type clientConnFake struct {
	mu   sync.Mutex
	reqs []clientFakeRequest
}

// clientOrgKey is an org-scoped key the fake knows, besides the admin
// clientTestKey.
const clientOrgKey = "rk_org_acme"

func (f *clientConnFake) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	writeErr := func(w http.ResponseWriter, status int, code, msg string) {
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			writeErr(w, 400, relay.EINVALID, "Invalid JSON body: "+err.Error())
			return false
		}
		return true
	}
	admin := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+clientTestKey {
				writeErr(w, 403, relay.EFORBIDDEN, "This needs an admin API key.")
				return
			}
			h(w, r)
		}
	}

	mux.HandleFunc("POST /api/v1/orgs", admin(func(w http.ResponseWriter, r *http.Request) {
		var o relay.Org
		if !decode(w, r, &o) {
			return
		}
		if o.ID == "acme" {
			writeErr(w, 409, relay.ECONFLICT, "Org acme exists.")
			return
		}
		o.CreatedAt = clientT0
		writeJSON(w, 201, o)
	}))
	mux.HandleFunc("GET /api/v1/orgs", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, relay.Page[*relay.Org]{Items: []*relay.Org{clientOrg}})
	}))
	mux.HandleFunc("GET /api/v1/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("org") != "acme" {
			writeErr(w, 404, relay.ENOTFOUND, "org "+r.PathValue("org")+" not found")
			return
		}
		writeJSON(w, 200, clientOrg)
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
		writeJSON(w, 201, map[string]any{"id": "key_1", "org_id": r.PathValue("org"), "name": in.Name,
			"created_at": clientT0, "key": "rk_secret"})
	}))
	mux.HandleFunc("POST /api/v1/orgs/{org}/connections/{provider}/authorize", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ReturnURL string `json:"return_url"`
		}
		if !decode(w, r, &in) {
			return
		}
		if r.PathValue("provider") != "github" {
			writeErr(w, 404, relay.ENOTFOUND, `provider "`+r.PathValue("provider")+`" has no connect flow configured`)
			return
		}
		writeJSON(w, 200, map[string]any{"authorize_url": "https://github.example/apps/relay/installations/new?state=s1",
			"expires_at": clientT0.Add(10 * time.Minute)})
	})
	mux.HandleFunc("GET /api/v1/connections", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, relay.Page[*relay.Connection]{Items: []*relay.Connection{clientConnection}})
	})
	mux.HandleFunc("GET /api/v1/connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "con_1":
			writeJSON(w, 200, struct {
				*relay.Connection
				Resources []*relay.Resource `json:"resources"`
			}{clientConnection, []*relay.Resource{clientResource}})
		case "con_proxied":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html><body>Bad Gateway</body></html>")
		default:
			writeErr(w, 404, relay.ENOTFOUND, "connection "+r.PathValue("id")+" not found")
		}
	})
	mux.HandleFunc("DELETE /api/v1/connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		c := *clientConnection
		c.Teardown = "pending"
		writeJSON(w, 202, c)
	})
	mux.HandleFunc("GET /api/v1/connections/{id}/token", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "con_suspended" {
			writeErr(w, 409, relay.ECONFLICT, "connection con_suspended is suspended")
			return
		}
		// As the server answers: no refresh token, and a zero expiry spelled out.
		expires := clientT0.Add(time.Hour)
		if r.PathValue("id") == "con_forever" {
			expires = time.Time{}
		}
		writeJSON(w, 200, map[string]any{"access_token": "ghs_token", "token_type": "bearer", "expires_at": expires})
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 404, relay.ENOTFOUND, "No such endpoint.")
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
		if auth := r.Header.Get("Authorization"); auth != "Bearer "+clientTestKey && auth != "Bearer "+clientOrgKey {
			writeErr(w, 401, relay.EUNAUTHORIZED, "Invalid API key.")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// last returns the last request the fake got.
func (f *clientConnFake) last(t *testing.T) clientFakeRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// newClientConnFake starts the fake and returns it, an admin client of it,
// and its URL.
func newClientConnFake(t *testing.T) (*clientConnFake, *relayhttp.Client, string) {
	f := &clientConnFake{}
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	return f, relayhttp.NewClient(srv.URL, clientTestKey), srv.URL
}

func TestClientOrgs(t *testing.T) {
	f, c, _ := newClientConnFake(t)
	ctx := context.Background()

	o, err := c.CreateOrg(ctx, "globex", "Globex")
	if err != nil {
		t.Fatal(err)
	}
	if want := (&relay.Org{ID: "globex", Name: "Globex", CreatedAt: clientT0}); !reflect.DeepEqual(o, want) {
		t.Errorf("CreateOrg = %+v, want %+v", o, want)
	}
	if req := f.last(t); req.Method != "POST" || req.Path != "/api/v1/orgs" ||
		!reflect.DeepEqual(req.Body, map[string]any{"id": "globex", "name": "Globex"}) {
		t.Errorf("CreateOrg sent %+v", req)
	}
	// No name: only the id is sent.
	if _, err := c.CreateOrg(ctx, "initech", ""); err != nil {
		t.Fatal(err)
	}
	if b := f.last(t).Body; !reflect.DeepEqual(b, map[string]any{"id": "initech"}) {
		t.Errorf("CreateOrg without a name sent %v", b)
	}
	if _, err := c.CreateOrg(ctx, "acme", ""); relay.ErrorCode(err) != relay.ECONFLICT || relay.ErrorMessage(err) != "Org acme exists." {
		t.Errorf("CreateOrg(existing) err = %v", err)
	}

	orgs, err := c.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 || !reflect.DeepEqual(orgs[0], clientOrg) {
		t.Errorf("ListOrgs = %v", orgs)
	}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/orgs" || len(req.Query) != 0 {
		t.Errorf("ListOrgs sent %+v", req)
	}

	o, err = c.GetOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, clientOrg) {
		t.Errorf("GetOrg = %+v", o)
	}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/orgs/acme" {
		t.Errorf("GetOrg sent %+v", req)
	}
	// Org ids may hold characters that need escaping (":" "@" are allowed).
	if _, err := c.GetOrg(ctx, "a/b c"); relay.ErrorCode(err) != relay.ENOTFOUND || relay.ErrorMessage(err) != "org a/b c not found" {
		t.Errorf("GetOrg(unknown) err = %v", err)
	}
	if p := f.last(t).Path; p != "/api/v1/orgs/a%2Fb%20c" {
		t.Errorf("path = %q", p)
	}

	k, secret, err := c.CreateOrgAPIKey(ctx, "acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if want := (&relay.APIKey{ID: "key_1", OrgID: "acme", Name: "ci", CreatedAt: clientT0}); !reflect.DeepEqual(k, want) || secret != "rk_secret" {
		t.Errorf("CreateOrgAPIKey = %+v, %q", k, secret)
	}
	if req := f.last(t); req.Method != "POST" || req.Path != "/api/v1/orgs/acme/api-keys" ||
		!reflect.DeepEqual(req.Body, map[string]any{"name": "ci"}) {
		t.Errorf("CreateOrgAPIKey sent %+v", req)
	}
	k, _, err = c.CreateOrgAPIKey(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if b := f.last(t).Body; len(b) != 0 || k.Name != "org acme" {
		t.Errorf("CreateOrgAPIKey without a name sent %v, got %+v", b, k)
	}
}

func TestClientOrgsAdminOnly(t *testing.T) {
	_, _, base := newClientConnFake(t)
	ctx := context.Background()
	org := relayhttp.NewClient(base, clientOrgKey)

	if _, err := org.ListOrgs(ctx); relay.ErrorCode(err) != relay.EFORBIDDEN {
		t.Errorf("ListOrgs with an org key: err = %v", err)
	}
	if _, err := org.CreateOrg(ctx, "x", ""); relay.ErrorCode(err) != relay.EFORBIDDEN {
		t.Errorf("CreateOrg with an org key: err = %v", err)
	}
	if k, secret, err := org.CreateOrgAPIKey(ctx, "acme", ""); relay.ErrorCode(err) != relay.EFORBIDDEN || k != nil || secret != "" {
		t.Errorf("CreateOrgAPIKey with an org key = %v, %q, %v", k, secret, err)
	}
}

func TestClientAuthorizeConnection(t *testing.T) {
	f, c, _ := newClientConnFake(t)
	ctx := context.Background()

	u, exp, err := c.AuthorizeConnection(ctx, "acme", "github", "https://app.example/done?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if u != "https://github.example/apps/relay/installations/new?state=s1" || !exp.Equal(clientT0.Add(10*time.Minute)) {
		t.Errorf("AuthorizeConnection = %q, %v", u, exp)
	}
	req := f.last(t)
	if req.Method != "POST" || req.Path != "/api/v1/orgs/acme/connections/github/authorize" ||
		!reflect.DeepEqual(req.Body, map[string]any{"return_url": "https://app.example/done?x=1"}) {
		t.Errorf("AuthorizeConnection sent %+v", req)
	}

	u, exp, err = c.AuthorizeConnection(ctx, "acme", "gitlab", "https://app.example/done")
	if relay.ErrorCode(err) != relay.ENOTFOUND || !strings.Contains(relay.ErrorMessage(err), "gitlab") || u != "" || !exp.IsZero() {
		t.Errorf("AuthorizeConnection(unknown provider) = %q, %v, %v", u, exp, err)
	}
}

func TestClientConnections(t *testing.T) {
	f, c, _ := newClientConnFake(t)
	ctx := context.Background()

	cs, err := c.ListConnections(ctx, relay.ConnectionFilter{OrgID: "acme", Provider: "github", IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || !reflect.DeepEqual(cs[0], clientConnection) {
		t.Errorf("ListConnections = %v", cs)
	}
	wantQ := url.Values{"org_id": {"acme"}, "provider": {"github"}, "include_deleted": {"true"}}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/connections" || !reflect.DeepEqual(req.Query, wantQ) {
		t.Errorf("ListConnections sent %+v, want query %v", req, wantQ.Encode())
	}
	// A zero filter sends no query at all.
	if _, err := c.ListConnections(ctx, relay.ConnectionFilter{}); err != nil {
		t.Fatal(err)
	}
	if q := f.last(t).Query; len(q) != 0 {
		t.Errorf("zero filter sent %v", q)
	}

	conn, rs, err := c.GetConnection(ctx, "con_1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(conn, clientConnection) || len(rs) != 1 || !reflect.DeepEqual(rs[0], clientResource) {
		t.Errorf("GetConnection = %+v, %v", conn, rs)
	}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/connections/con_1" {
		t.Errorf("GetConnection sent %+v", req)
	}
	conn, rs, err = c.GetConnection(ctx, "con_missing")
	if relay.ErrorCode(err) != relay.ENOTFOUND || relay.ErrorMessage(err) != "connection con_missing not found" || conn != nil || rs != nil {
		t.Errorf("GetConnection(missing) = %v, %v, %v", conn, rs, err)
	}

	conn, err = c.DeleteConnection(ctx, "con_1")
	if err != nil {
		t.Fatal(err)
	}
	if conn.ID != "con_1" || conn.Teardown != "pending" || conn.Status != relay.ConnectionActive {
		t.Errorf("DeleteConnection = %+v", conn)
	}
	if req := f.last(t); req.Method != "DELETE" || req.Path != "/api/v1/connections/con_1" || req.Body != nil {
		t.Errorf("DeleteConnection sent %+v", req)
	}
}

func TestClientConnectionToken(t *testing.T) {
	f, c, _ := newClientConnFake(t)
	ctx := context.Background()

	tok, err := c.ConnectionToken(ctx, "con_1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (&relay.Token{AccessToken: "ghs_token", TokenType: "bearer", ExpiresAt: clientT0.Add(time.Hour)}); !reflect.DeepEqual(tok, want) {
		t.Errorf("ConnectionToken = %+v, want %+v", tok, want)
	}
	if req := f.last(t); req.Method != "GET" || req.Path != "/api/v1/connections/con_1/token" {
		t.Errorf("ConnectionToken sent %+v", req)
	}

	// The server spells a token that does not expire as the zero time.
	tok, err = c.ConnectionToken(ctx, "con_forever")
	if err != nil || !tok.ExpiresAt.IsZero() {
		t.Errorf("ConnectionToken(no expiry) = %+v, %v", tok, err)
	}

	tok, err = c.ConnectionToken(ctx, "con_suspended")
	var rerr *relay.Error
	if !errors.As(err, &rerr) || rerr.Code != relay.ECONFLICT || rerr.Message != "connection con_suspended is suspended" || tok != nil {
		t.Errorf("ConnectionToken(suspended) = %v, %#v", tok, err)
	}
}

func TestClientConnectionsErrors(t *testing.T) {
	_, c, base := newClientConnFake(t)
	ctx := context.Background()

	// A wrong key is EUNAUTHORIZED, on every method.
	bad := relayhttp.NewClient(base, "rk_wrong")
	calls := map[string]func() error{
		"CreateOrg": func() error { _, err := bad.CreateOrg(ctx, "x", ""); return err },
		"ListOrgs":  func() error { _, err := bad.ListOrgs(ctx); return err },
		"GetOrg":    func() error { _, err := bad.GetOrg(ctx, "acme"); return err },
		"CreateOrgAPIKey": func() error {
			_, _, err := bad.CreateOrgAPIKey(ctx, "acme", "")
			return err
		},
		"AuthorizeConnection": func() error {
			_, _, err := bad.AuthorizeConnection(ctx, "acme", "github", "https://app.example/")
			return err
		},
		"ListConnections":  func() error { _, err := bad.ListConnections(ctx, relay.ConnectionFilter{}); return err },
		"GetConnection":    func() error { _, _, err := bad.GetConnection(ctx, "con_1"); return err },
		"DeleteConnection": func() error { _, err := bad.DeleteConnection(ctx, "con_1"); return err },
		"ConnectionToken":  func() error { _, err := bad.ConnectionToken(ctx, "con_1"); return err },
	}
	for name, call := range calls {
		if err := call(); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
			t.Errorf("%s with a wrong key: err = %v", name, err)
		}
	}

	// An answer that is not the API's (a proxy's page) is a plain error.
	_, _, err := c.GetConnection(ctx, "con_proxied")
	var rerr *relay.Error
	if err == nil || errors.As(err, &rerr) || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("proxy error: err = %v", err)
	}
	if relay.ErrorCode(err) != relay.EINTERNAL {
		t.Errorf("proxy error code = %q", relay.ErrorCode(err))
	}

	// Ids are escaped into the path: "con_1/token" is not the token endpoint.
	if _, _, err := c.GetConnection(ctx, "con_1/token"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("GetConnection(con_1/token) err = %v", err)
	}
}
