package github_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/simulator"
)

// installAs returns the redirect of an install by the user login that names
// installation id, whatever that user may access.
func installAs(t *testing.T, sim *simulator.GitHub, login string, id int64, action string) url.Values {
	t.Helper()
	u, err := url.Parse(sim.InstallRedirectAs(login, callback, "st8", id, action))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestConnectorVerifiesInstallation: the redirect's installation_id is
// accepted only when the installing user's own token lists it.
func TestConnectorVerifiesInstallation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// mallory installed the App on her own account (installation 9) and
	// names octo-org's installation 42, or one that does not exist.
	f.sim.AddInstallation(simulator.GitHubInstallation{ID: 9, Login: "mallory", TargetType: "User"})

	g, err := f.c.Exchange(ctx, installAs(t, f.sim, "octo-org-admin", 42, "install"), callback, "")
	if err != nil || g.Connection.ExternalID != "42" || g.Token == nil {
		t.Fatalf("listed installation: %+v %v", g, err)
	}
	g, err = f.c.Exchange(ctx, installAs(t, f.sim, "mallory", 9, "install"), callback, "")
	if err != nil || g.Connection.ExternalID != "9" || g.Connection.AccountName != "mallory" {
		t.Fatalf("mallory's own installation: %+v %v", g, err)
	}

	minted := f.sim.Calls("create_token")
	for _, tc := range []struct {
		name string
		q    url.Values
		want string
	}{
		{"another user's installation", installAs(t, f.sim, "mallory", 42, "install"), "installation 42 is not one the installing user can access"},
		{"another user's installation, update", installAs(t, f.sim, "mallory", 42, "update"), "installation 42 is not one"},
		{"no action", installAs(t, f.sim, "mallory", 42, ""), "installation 42 is not one"},
		{"a nonexistent installation", installAs(t, f.sim, "mallory", 999, "install"), "installation 999 is not one"},
		{"no code", installAs(t, f.sim, "", 42, "install"), "installation 42 could not be verified: the callback has no code"},
		{"an empty code", url.Values{"installation_id": {"42"}, "setup_action": {"install"}, "code": {""}}, "no code"},
	} {
		g, err := f.c.Exchange(ctx, tc.q, callback, "")
		if relay.ErrorCode(err) != relay.EFORBIDDEN || !strings.Contains(relay.ErrorMessage(err), tc.want) || g != nil {
			t.Errorf("%s: %+v %v, want EFORBIDDEN %q", tc.name, g, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "ghu_") || strings.Contains(err.Error(), tc.q.Get("code")) && tc.q.Get("code") != "") {
			t.Errorf("%s: the error holds the user's code or token: %v", tc.name, err)
		}
	}
	if n := f.sim.Calls("create_token") - minted; n != 0 {
		t.Fatalf("%d installation tokens minted for refused installations", n)
	}
	if n := f.sim.Calls("get_installation"); n != 2 {
		t.Fatalf("installations read: %d, want only the two verified", n)
	}
	if f.sim.LiveUserTokens() != 0 || f.sim.Calls("revoke_user_token") != f.sim.Calls("user_token") {
		t.Fatalf("user tokens: %d live, %d revoked of %d", f.sim.LiveUserTokens(), f.sim.Calls("revoke_user_token"), f.sim.Calls("user_token"))
	}

	// An update by a user who can access the installation passes the same
	// check; the code is single use.
	q := installAs(t, f.sim, "octo-org-admin", 42, "update")
	if g, err := f.c.Exchange(ctx, q, callback, ""); err != nil || g.Connection.ExternalID != "42" {
		t.Fatalf("update: %+v %v", g, err)
	}
	if _, err := f.c.Exchange(ctx, q, callback, ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
}

// TestConnectorVerifiesAcrossPages: the installing user's installations are
// followed page by page until the one named is found.
func TestConnectorVerifiesAcrossPages(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ids := []int64{101, 102, 103, 104, 105}
	for _, id := range ids {
		f.sim.AddInstallation(simulator.GitHubInstallation{ID: id, Login: "org-" + string(rune('a'+id-101))})
	}
	f.sim.AddUser(simulator.GitHubUser{Login: "busy", Installations: ids})

	// The simulator answers two a page: 105 is on the third.
	if g, err := f.c.Exchange(ctx, installAs(t, f.sim, "busy", 105, "install"), callback, ""); err != nil || g.Connection.ExternalID != "105" {
		t.Fatalf("last page: %+v %v", g, err)
	}
	if n := f.sim.Calls("user_installations"); n != 3 {
		t.Fatalf("pages fetched: %d, want 3", n)
	}
	// Not listed on any page: every page is read, then refused.
	if _, err := f.c.Exchange(ctx, installAs(t, f.sim, "busy", 42, "install"), callback, ""); relay.ErrorCode(err) != relay.EFORBIDDEN {
		t.Fatalf("unlisted: %v", err)
	}
	if n := f.sim.Calls("user_installations"); n != 6 {
		t.Fatalf("pages fetched: %d, want 6", n)
	}
}

// TestConnectorAllowUnverifiedInstallations: the escape hatch takes the
// redirect's installation_id as it is, without an OAuth client.
func TestConnectorAllowUnverifiedInstallations(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c, err := github.NewConnector(github.ConnectorConfig{AppID: f.sim.AppID, AppSlug: f.sim.AppSlug, PrivateKey: f.sim.PrivateKey(),
		APIURL: f.sim.URL(), WebURL: f.sim.URL(), Now: f.clock, AllowUnverifiedInstallations: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Exchange(ctx, installAs(t, f.sim, "", 42, "install"), callback, "")
	if err != nil || g.Connection.ExternalID != "42" || g.Token == nil {
		t.Fatalf("install without a code: %+v %v", g, err)
	}
	g, err = c.Exchange(ctx, installAs(t, f.sim, "", 7, "request"), callback, "")
	if err != nil || g.Connection.Status != relay.ConnectionPending || g.Connection.ExternalID != "7" {
		t.Fatalf("request: %+v %v", g, err)
	}
	if n := f.sim.Calls("user_token") + f.sim.Calls("user_installations"); n != 0 {
		t.Fatalf("the escape hatch called the user authorization endpoints %d times", n)
	}
}
