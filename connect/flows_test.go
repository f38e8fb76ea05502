package connect_test

import (
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
)

// startFlow runs Authorize and opens the start link it returns, as the
// starting browser does, and returns the state the provider will send back
// and the browser's binding cookie.
func (f *fixture) startFlow(t *testing.T, returnURL string) (state, binding string) {
	t.Helper()
	start, _, err := f.svc.Authorize(ctx, "org_a", "fake", returnURL)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := f.svc.Start(ctx, "fake", flowID(t, start))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fs.AuthorizeURL)
	if u.Query().Get("redirect_uri") != "https://relay.example/oauth/fake/callback" || u.Query().Get("code_challenge") == "" ||
		u.Query().Get("state") != fs.State || fs.Binding == "" {
		t.Fatalf("started flow %+v", fs)
	}
	return fs.State, fs.Binding
}

// flowID returns the flow id of a start link, checking its shape.
func flowID(t *testing.T, start string) string {
	t.Helper()
	u, err := url.Parse(start)
	if err != nil || !strings.HasPrefix(start, "https://relay.example/oauth/fake/start?") || u.Query().Get("flow") == "" {
		t.Fatalf("start link %q", start)
	}
	return u.Query().Get("flow")
}

func TestFlowBoundToTheBrowserThatStartedIt(t *testing.T) {
	f := newFixture(t)
	start, exp, err := f.svc.Authorize(ctx, "org_a", "fake", "https://app.example/done")
	if err != nil || !exp.Equal(f.clock().Add(10*time.Minute)) {
		t.Fatalf("authorize: %v %v", exp, err)
	}
	if strings.Contains(start, "state=") {
		t.Fatalf("the start link reveals the state: %s", start)
	}
	flow := flowID(t, start)

	// The first browser to open the link is the flow's; the link is then used up.
	fs, err := f.svc.Start(ctx, "fake", flow)
	if err != nil {
		t.Fatal(err)
	}
	if !fs.ExpiresAt.Equal(exp) {
		t.Fatalf("binding expires %v, want %v", fs.ExpiresAt, exp)
	}
	if _, err := f.svc.Start(ctx, "fake", flow); relay.ErrorCode(err) != relay.EINVALID ||
		!strings.Contains(relay.ErrorMessage(err), "already opened") {
		t.Fatalf("second browser on the same link: %v", err)
	}
	for name, fl := range map[string]string{"unknown": "nope", "empty": ""} {
		if _, err := f.svc.Start(ctx, "fake", fl); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s flow: %v", name, err)
		}
	}

	// The provider sends another browser back (a forwarded link): refused,
	// nothing stored, and the flow still works for its own browser.
	q := url.Values{"state": {fs.State}, "code": {"c1"}, "account": {"acct-1"}}
	for name, binding := range map[string]string{"no cookie": "", "another cookie": "x" + fs.Binding} {
		_, err := f.svc.Callback(ctx, "fake", q, binding)
		if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "browser that started it") {
			t.Fatalf("callback with %s: %v", name, err)
		}
	}
	if cs, _ := f.store.ListConnections(ctx, relay.ConnectionFilter{IncludeDeleted: true}); len(cs) != 0 {
		t.Fatalf("a refused callback stored %d connections", len(cs))
	}
	to, err := f.svc.Callback(ctx, "fake", q, fs.Binding)
	if err != nil || !strings.Contains(to, "connection_id=") {
		t.Fatalf("callback from the starting browser: %s %v", to, err)
	}
	if _, err := f.svc.Callback(ctx, "fake", q, fs.Binding); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("state reused: %v", err)
	}
}

func TestStartLinkExpiresAndKnowsItsProvider(t *testing.T) {
	f := newFixture(t)
	start, _, err := f.svc.Authorize(ctx, "org_a", "fake", "https://app.example/done")
	if err != nil {
		t.Fatal(err)
	}
	// A provider without a connect flow: the link is left for its browser.
	if _, err := f.svc.Start(ctx, "other", flowID(t, start)); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("start link opened for an unknown provider: %v", err)
	}
	if _, err := f.svc.Start(ctx, "fake", flowID(t, start)); err != nil {
		t.Fatalf("start link after a wrong provider: %v", err)
	}
	start, _, _ = f.svc.Authorize(ctx, "org_a", "fake", "https://app.example/done")
	f.advance(11 * time.Minute)
	if _, err := f.svc.Start(ctx, "fake", flowID(t, start)); relay.ErrorCode(err) != relay.EINVALID ||
		!strings.Contains(relay.ErrorMessage(err), "expired") {
		t.Fatalf("expired start link: %v", err)
	}
}

func TestReturnURLMustBeOnAnAllowedOrigin(t *testing.T) {
	f := newFixture(t) // allows https://app.example
	for _, ok := range []string{"https://app.example/done", "https://APP.example:443/x?y=1", "https://app.example"} {
		if _, _, err := f.svc.Authorize(ctx, "org_a", "fake", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://evil.example/done", "http://app.example/done", "https://app.example:8443/",
		"https://app.example.evil.example/", "https://app.example@evil.example/", "javascript:alert(1)", "/relative"} {
		_, _, err := f.svc.Authorize(ctx, "org_a", "fake", bad)
		if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "https://app.example") {
			t.Errorf("%s: %v", bad, err)
		}
	}

	// Without a list, only Relay's own origin is allowed.
	svc := connect.New(f.store, newTestSealer(), []relay.Connector{f.fake}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		f.clock, connect.Config{PublicURL: "https://relay.example/"})
	t.Cleanup(svc.Close)
	if _, _, err := svc.Authorize(ctx, "org_a", "fake", "https://relay.example/welcome"); err != nil {
		t.Errorf("public origin: %v", err)
	}
	_, _, err := svc.Authorize(ctx, "org_a", "fake", "https://app.example/done")
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "https://relay.example") {
		t.Errorf("default allow-list: %v", err)
	}
}

// TestMatchCacheFollowsOtherReplicas: two services on one store are two
// replicas. A change made through one reaches the other's match cache at
// its next generation check, long before the cache's TTL.
func TestMatchCacheFollowsOtherReplicas(t *testing.T) {
	f := newFixture(t)
	other := connect.New(f.store, newTestSealer(), []relay.Connector{f.fake}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		f.clock, connect.Config{PublicURL: "https://relay.example", AllowedReturnOrigins: []string{"https://app.example"}})
	t.Cleanup(other.Close)
	id := f.connect(t, "acct-1", "c1").Get("connection_id")

	match := func(account, resource string) *relay.Event {
		ev := &relay.Event{Provider: "fake", AccountID: account, ResourceID: resource}
		other.Match(ctx, ev)
		return ev
	}
	if ev := match("acct-1", ""); ev.ConnectionID != id {
		t.Fatalf("before: %+v", ev)
	}
	if ev := match("", "res-1"); ev.ConnectionID != id {
		t.Fatalf("resource before: %+v", ev)
	}

	// The resource moves away through the first replica's store (a
	// lifecycle webhook changes resources only once the provider confirms
	// it, which the fake connector cannot: the store write is what the
	// other replica must notice).
	if err := f.store.UpdateResources(ctx, id, nil, []string{"res-1"}, f.clock()); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second)
	if ev := match("", "res-1"); ev.Match != relay.MatchNone || ev.ConnectionID != "" {
		t.Fatalf("removed resource still routes on the other replica: %+v", ev)
	}

	// The connection is torn down through the first replica.
	if _, err := f.svc.Teardown(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "teardown done", func() bool {
		c, err := f.store.GetConnection(ctx, id, "")
		return err == nil && c.DeletedAt != nil
	})
	f.advance(time.Second)
	if ev := match("acct-1", ""); ev.Match != relay.MatchUnmatched || ev.ConnectionID != "" {
		t.Fatalf("deleted connection still matched on the other replica: %+v", ev)
	}
}
