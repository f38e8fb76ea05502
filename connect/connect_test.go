package connect_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
	"github.com/relayhq/relay/sqlite"
)

// testSealer is AES-GCM under one fixed key, the associated data
// authenticated: enough to see that the service stores only ciphertext and
// opens what it stored, for the connection it stored it for.
type testSealer struct{ aead cipher.AEAD }

func newTestSealer() *testSealer {
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	return &testSealer{aead}
}

func (s *testSealer) Seal(p, ad []byte) (relay.Sealed, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return relay.Sealed{KeyID: "test", Ciphertext: s.aead.Seal(nonce, nonce, p, ad)}, nil
}

func (s *testSealer) Open(v relay.Sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	return s.aead.Open(nil, v.Ciphertext[:n], v.Ciphertext[n:], ad)
}

// fakeConnector is a provider whose every answer the test controls.
type fakeConnector struct {
	pkce      bool
	ttl       time.Duration
	now       func() time.Time
	refreshes atomic.Int32
	revokes   atomic.Int32
	gate      chan struct{} // when set, Refresh waits on it
}

func (f *fakeConnector) Name() string { return "fake" }
func (f *fakeConnector) PKCE() bool   { return f.pkce }
func (f *fakeConnector) AuthorizeURL(state, redirectURI, challenge string) string {
	return "https://fake.example/authorize?" + url.Values{"state": {state}, "redirect_uri": {redirectURI},
		"code_challenge": {challenge}}.Encode()
}

func (f *fakeConnector) Exchange(ctx context.Context, q url.Values, redirectURI, verifier string) (*relay.Grant, error) {
	switch q.Get("code") {
	case "bad":
		return nil, relay.Errorf(relay.EINVALID, "fake: exchange code: HTTP 400")
	case "unverified":
		return nil, relay.Errorf(relay.EFORBIDDEN, "fake: the account is not the user's")
	}
	if f.pkce && verifier == "" {
		return nil, relay.Errorf(relay.EINVALID, "fake: missing verifier")
	}
	return &relay.Grant{
		Connection: &relay.Connection{ExternalID: q.Get("account"), AccountName: "Acme"},
		Token:      &relay.Token{AccessToken: "at-" + q.Get("code"), RefreshToken: "rt-1", ExpiresAt: f.now().Add(f.ttl)},
		Resources:  []*relay.Resource{{ExternalID: "res-1", Kind: "repository", Name: "acme/app"}},
	}, nil
}

func (f *fakeConnector) Refresh(ctx context.Context, c *relay.Connection, t *relay.Token) (*relay.Token, error) {
	f.refreshes.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	return &relay.Token{AccessToken: "at-refreshed", ExpiresAt: f.now().Add(time.Hour)}, nil
}

func (f *fakeConnector) Revoke(ctx context.Context, c *relay.Connection, t *relay.Token) error {
	f.revokes.Add(1)
	return nil
}

func (f *fakeConnector) Resources(ctx context.Context, c *relay.Connection, t *relay.Token) ([]*relay.Resource, error) {
	return nil, nil
}

type fixture struct {
	store *sqlite.Store
	svc   *connect.Service
	fake  *fakeConnector
	now   time.Time
	mu    sync.Mutex
	path  string
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

var ctx = context.Background()

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), path: path}
	f.fake = &fakeConnector{pkce: true, ttl: time.Hour, now: f.clock}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.svc = connect.New(store, newTestSealer(), []relay.Connector{f.fake}, nil, logger, f.clock,
		connect.Config{PublicURL: "https://relay.example", AllowedReturnOrigins: []string{"https://app.example"}})
	t.Cleanup(f.svc.Close)
	if err := store.CreateOrg(ctx, &relay.Org{ID: "org_a", Name: "A", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	return f
}

// connect runs a whole flow and returns the redirect's query.
func (f *fixture) connect(t *testing.T, account, code string) url.Values {
	t.Helper()
	state, binding := f.startFlow(t, "https://app.example/done?x=1")
	to, err := f.svc.Callback(ctx, "fake", url.Values{"state": {state}, "code": {code}, "account": {account}}, binding)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(to)
	if !strings.HasPrefix(to, "https://app.example/done?") || back.Query().Get("x") != "1" {
		t.Fatalf("redirect %s", to)
	}
	return back.Query()
}

func TestConnectFlow(t *testing.T) {
	f := newFixture(t)
	q := f.connect(t, "acct-1", "c1")
	if q.Get("status") != relay.ConnectionActive || q.Get("connection_id") == "" {
		t.Fatalf("redirect query %v", q)
	}
	c, err := f.store.GetConnection(ctx, q.Get("connection_id"), "org_a")
	if err != nil || c.ExternalID != "acct-1" || c.OrgID != "org_a" || c.Provider != "fake" {
		t.Fatalf("connection %+v %v", c, err)
	}
	st, err := f.store.GetToken(ctx, c.ID)
	if err != nil || strings.Contains(string(st.Sealed.Ciphertext), "at-c1") {
		t.Fatalf("token stored in clear or missing: %v", err)
	}
	tok, err := f.svc.Token(ctx, c.ID, "org_a")
	if err != nil || tok.AccessToken != "at-c1" {
		t.Fatalf("token %+v %v", tok, err)
	}
	if _, err := f.svc.Token(ctx, c.ID, "org_b"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("another org's token: %v", err)
	}

	// Teardown revokes and soft-deletes; reconnecting revives the same id.
	if _, err := f.svc.Teardown(ctx, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "teardown done", func() bool {
		c, err := f.store.GetConnection(ctx, c.ID, "")
		return err == nil && c.Teardown == connect.TeardownDone && c.DeletedAt != nil
	})
	if f.fake.revokes.Load() != 1 {
		t.Fatalf("revokes %d", f.fake.revokes.Load())
	}
	if _, err := f.svc.Token(ctx, c.ID, ""); err == nil {
		t.Fatal("a deleted connection still hands out tokens")
	}
	q2 := f.connect(t, "acct-1", "c2")
	if q2.Get("connection_id") != c.ID || q2.Get("status") != relay.ConnectionActive {
		t.Fatalf("reconnect: %v (want id %s)", q2, c.ID)
	}
	if tok, err := f.svc.Token(ctx, c.ID, ""); err != nil || tok.AccessToken != "at-c2" {
		t.Fatalf("revived token %+v %v", tok, err)
	}
}

func TestCallbackRejectsBadState(t *testing.T) {
	f := newFixture(t)
	state, binding := f.startFlow(t, "https://app.example/done")

	for name, q := range map[string]url.Values{
		"missing":  {"code": {"c"}},
		"tampered": {"state": {state + "x"}, "code": {"c"}},
	} {
		if _, err := f.svc.Callback(ctx, "fake", q, binding); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s state: %v", name, err)
		}
	}
	// Used once (for the wrong provider): gone for good.
	if _, err := f.svc.Callback(ctx, "other", url.Values{"state": {state}, "code": {"c"}}, binding); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("foreign provider: %v", err)
	}
	if _, err := f.svc.Callback(ctx, "fake", url.Values{"state": {state}, "code": {"c"}, "account": {"a"}}, binding); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("reused state: %v", err)
	}

	// Expired, denied and provider errors go back to the app with error=….
	back := func(q url.Values) url.Values {
		state, binding := f.startFlow(t, "https://app.example/done")
		q.Set("state", state)
		q.Set("account", "acct-x")
		to, err := f.svc.Callback(ctx, "fake", q, binding)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := url.Parse(to)
		return r.Query()
	}
	if q := back(url.Values{"error": {"access_denied"}}); q.Get("error") != "access_denied" {
		t.Errorf("denied: %v", q)
	}
	if q := back(url.Values{"code": {"bad"}}); q.Get("error") != "provider_error" {
		t.Errorf("provider error: %v", q)
	}
	// An account the provider does not vouch for (a spoofed GitHub
	// installation_id) is refused as such, and stored nowhere (below).
	if q := back(url.Values{"code": {"unverified"}}); q.Get("error") != "installation_not_verified" || q.Get("connection_id") != "" {
		t.Errorf("unverified account: %v", q)
	}
	state, binding = f.startFlow(t, "https://app.example/done")
	f.advance(11 * time.Minute)
	to, err := f.svc.Callback(ctx, "fake", url.Values{"state": {state}, "code": {"c"}, "account": {"acct-x"}}, binding)
	if err != nil || !strings.Contains(to, "error=state_expired") {
		t.Errorf("expired: %s %v", to, err)
	}
	if cs, _ := f.store.ListConnections(ctx, relay.ConnectionFilter{IncludeDeleted: true}); len(cs) != 0 {
		t.Fatalf("rejected flows created %d connections", len(cs))
	}
	if _, _, err := f.svc.Authorize(ctx, "org_a", "fake", "javascript:alert(1)"); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("bad return url: %v", err)
	}
	if _, _, err := f.svc.Authorize(ctx, "nope", "fake", "https://app.example/"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("unknown org: %v", err)
	}
	if _, _, err := f.svc.Authorize(ctx, "org_a", "github", "https://app.example/"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("unconfigured provider: %v", err)
	}
}

func TestConcurrentTokenRequestsRefreshOnce(t *testing.T) {
	f := newFixture(t)
	f.fake.ttl = 2 * time.Minute // inside the 5-minute refresh window
	f.fake.gate = make(chan struct{})
	id := f.connect(t, "acct-1", "c1").Get("connection_id")
	var wg sync.WaitGroup
	tokens := make([]string, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := f.svc.Token(ctx, id, "")
			errs[i] = err
			if tok != nil {
				tokens[i] = tok.AccessToken
			}
		}()
	}
	waitFor(t, "the refresh to start", func() bool { return f.fake.refreshes.Load() == 1 })
	close(f.fake.gate)
	wg.Wait()
	for i := range 50 {
		if errs[i] != nil || tokens[i] != "at-refreshed" {
			t.Fatalf("caller %d: %q %v", i, tokens[i], errs[i])
		}
	}
	if n := f.fake.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	// The rotated refresh token was kept (the provider sent none) and stored.
	st, _ := f.store.GetToken(ctx, id)
	if st.Version != 2 {
		t.Fatalf("token version %d, want 2", st.Version)
	}
}

func TestHeldEventsReleasedOnConnect(t *testing.T) {
	f := newFixture(t)
	now := f.clock()
	dst := &relay.Destination{ID: "dst_org", Name: "org-a-app", URL: "http://127.0.0.1:1/x", Secret: "whsec_dGVzdA==",
		OrgID: "org_a", MaxConcurrency: 1, Timeout: relay.Duration(time.Second), CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateDestination(ctx, dst); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		ev := &relay.Event{ID: relay.NewID("evt", now.Add(time.Duration(i)*time.Millisecond)), Provider: "fake",
			DeliveryID: "d" + string(rune('0'+i)), EventType: "thing.created", Source: relay.SourceLive,
			AccountID: "acct-held", Payload: []byte(`{}`), ReceivedAt: now}
		f.svc.Match(ctx, ev)
		if ev.Match != relay.MatchUnmatched || ev.OrgID != "" {
			t.Fatalf("unknown account matched: %+v", ev)
		}
		if err := f.store.InsertEvents(ctx, []*relay.IngestItem{{Event: ev}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	q := f.connect(t, "acct-held", "c1")
	for _, id := range ids {
		ev, err := f.store.GetEvent(ctx, id, "org_a")
		if err != nil || ev.ConnectionID != q.Get("connection_id") || ev.Match != relay.MatchMatched || len(ev.Deliveries) != 1 {
			t.Fatalf("event %s after release: %+v %v", id, ev, err)
		}
	}
	// Later events of the account match at once (the cache was invalidated).
	ev := &relay.Event{Provider: "fake", AccountID: "acct-held"}
	f.svc.Match(ctx, ev)
	if ev.Match != relay.MatchMatched || ev.OrgID != "org_a" {
		t.Fatalf("after connect: %+v", ev)
	}
	// Released in arrival order.
	claims, err := f.store.ClaimDue(ctx, "me", f.clock().Add(time.Second), time.Minute, 10)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claims %d %v", len(claims), err)
	}
	for i, c := range claims {
		if c.Event.ID != ids[i] {
			t.Fatalf("claim %d is %s, want %s", i, c.Event.ID, ids[i])
		}
	}
}

func TestLifecycle(t *testing.T) {
	f, cc := newLifecycleFixture(t)
	id := f.connect(t, "acct-1", "c1").Get("connection_id")
	cc.set(&relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionSuspended, Reason: "suspended by the provider",
		AddResources: []*relay.Resource{{ExternalID: "res-2", Kind: "repository"}}, RemoveResources: []string{"res-1"}}, nil)
	err := f.svc.ApplyLifecycle(ctx, "fake", &relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionSuspended,
		Reason: "suspended by the provider", AddResources: []*relay.Resource{{ExternalID: "res-2", Kind: "repository"}},
		RemoveResources: []string{"res-1"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.store.GetConnection(ctx, id, "")
	rs, _ := f.store.ListResources(ctx, id)
	if c.Status != relay.ConnectionSuspended || len(rs) != 1 || rs[0].ExternalID != "res-2" {
		t.Fatalf("after lifecycle: %+v %v", c, rs)
	}
	ev := &relay.Event{Provider: "fake", ResourceID: "res-2"}
	f.svc.Match(ctx, ev)
	if ev.ConnectionID != id {
		t.Fatalf("resource routing: %+v", ev)
	}
	if err := f.svc.ApplyLifecycle(ctx, "fake", &relay.LifecycleChange{AccountID: "unknown", Status: relay.ConnectionRevoked}); err != nil {
		t.Fatalf("unknown account: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
