package connect_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// sessionFlow starts provider "fake" from the page of the session with
// token, completes the flow as the provider would for account, and returns
// where the session's return sends the browser.
func (f *fixture) sessionFlow(t *testing.T, token, account, code string) *url.URL {
	t.Helper()
	start, err := f.svc.StartFromSession(ctx, token, "fake")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := f.svc.Start(ctx, "fake", flowID(t, start))
	if err != nil {
		t.Fatal(err)
	}
	to, err := f.svc.Callback(ctx, "fake", url.Values{"state": {fs.State}, "code": {code}, "account": {account}}, fs.Binding)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(to)
	id := strings.TrimSuffix(strings.TrimPrefix(back.Path, "/connect/sessions/"), "/return")
	if !strings.HasPrefix(to, "https://relay.example/connect/sessions/") || back.Query().Get("provider") != "fake" {
		t.Fatalf("the flow ended at %s, not the session's return", to)
	}
	end, err := f.svc.FinishSession(ctx, id, back.Query())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(end)
	return u
}

func TestConnectSession(t *testing.T) {
	f := newFixture(t)
	cs, token, page, err := f.svc.CreateSession(ctx, "org_a", nil, "https://app.example/after?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if page != "https://relay.example/connect/"+token || !strings.HasPrefix(token, "cst_") || len(cs.Providers) != 1 ||
		cs.Providers[0] != "fake" || !cs.ExpiresAt.Equal(f.clock().Add(30*time.Minute)) {
		t.Fatalf("session %+v, token %q, page %s", cs, token, page)
	}
	if got, err := f.svc.Session(ctx, token); err != nil || got.ID != cs.ID {
		t.Fatalf("session by token: %+v %v", got, err)
	}

	end := f.sessionFlow(t, token, "acct-1", "c1")
	q := end.Query()
	if end.Host != "app.example" || end.Path != "/after" || q.Get("x") != "1" || q.Get("provider") != "fake" ||
		q.Get("status") != relay.ConnectionActive || q.Get("connection_id") == "" {
		t.Fatalf("return %s", end)
	}
	c, err := f.store.GetConnection(ctx, q.Get("connection_id"), "org_a")
	if err != nil || c.ExternalID != "acct-1" {
		t.Fatalf("connection %+v %v", c, err)
	}
	// Single use per connection: the provider cannot be connected again
	// with the same link.
	if _, err := f.svc.StartFromSession(ctx, token, "fake"); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("second start: %v", err)
	}
	if got, _ := f.svc.Session(ctx, token); got.Connected["fake"] != c.ID {
		t.Fatalf("connected %v", got.Connected)
	}
}

func TestConnectSessionRefusals(t *testing.T) {
	f := newFixture(t)
	if _, _, _, err := f.svc.CreateSession(ctx, "org_a", []string{"nope"}, "https://app.example/after"); relay.ErrorCode(err) != relay.EINVALID ||
		!strings.Contains(relay.ErrorMessage(err), "configured: fake") {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, _, _, err := f.svc.CreateSession(ctx, "org_a", nil, "https://evil.example/"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("foreign return URL: %v", err)
	}
	if _, _, _, err := f.svc.CreateSession(ctx, "org_zz", nil, "https://app.example/"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("unknown org: %v", err)
	}
	if _, err := f.svc.StartFromSession(ctx, "cst_unknown", "fake"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("unknown token: %v", err)
	}

	cs, token, _, err := f.svc.CreateSession(ctx, "org_a", []string{"fake", "fake"}, "https://app.example/after")
	if err != nil || len(cs.Providers) != 1 {
		t.Fatalf("session %+v %v", cs, err)
	}
	// A result naming a connection of another org, or of another provider,
	// is not recorded.
	other := f.connect(t, "acct-9", "c9") // org_a's own, made outside the session
	if _, err := f.svc.FinishSession(ctx, cs.ID, url.Values{"provider": {"fake"}, "connection_id": {"conn_nope"}}); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("unknown connection: %v", err)
	}
	if _, err := f.svc.FinishSession(ctx, cs.ID, url.Values{"provider": {"other"}, "connection_id": {other.Get("connection_id")}}); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("provider not offered: %v", err)
	}
	// A failed flow goes back with its error, and the provider stays open.
	end, err := f.svc.FinishSession(ctx, cs.ID, url.Values{"provider": {"fake"}, "error": {"access_denied"}})
	if u, _ := url.Parse(end); err != nil || u.Query().Get("error") != "access_denied" || u.Query().Get("provider") != "fake" {
		t.Fatalf("denied: %s %v", end, err)
	}
	if _, err := f.svc.StartFromSession(ctx, token, "fake"); err != nil {
		t.Fatalf("start after a failure: %v", err)
	}
	// Expired: the page and its buttons are gone.
	f.advance(30 * time.Minute)
	if _, err := f.svc.Session(ctx, token); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := f.svc.StartFromSession(ctx, token, "fake"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("expired start: %v", err)
	}
}
