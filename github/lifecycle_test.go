package github_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/simulator"
)

// X-GitHub-Event is not signed: a captured signed body of another event,
// re-sent as an installation event, must not be read as one.
func TestLifecycleChecksTheBodyShape(t *testing.T) {
	p := github.New(github.Config{WebhookSecret: secret})
	parse := func(t *testing.T, event string, body []byte) relay.Inbound {
		t.Helper()
		req := &relay.WebhookRequest{Header: simulator.GitHubWebhook(secret, event, "d-replayed", body), Body: body}
		if err := p.Verify(req); err != nil {
			t.Fatal(err)
		}
		in, err := p.Parse(req)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	issues := string(readFixture(t, "issues.opened.json"))
	deleted := string(readFixture(t, "installation.deleted.json"))
	added := string(readFixture(t, "installation_repositories.added.json"))
	tests := []struct {
		name, event, body string
	}{
		// issues has a "deleted" action; its installation is {id, node_id}.
		{"issues body as installation.deleted", "installation", strings.Replace(issues, `"action": "opened"`, `"action": "deleted"`, 1)},
		{"issues body as installation.suspend", "installation", strings.Replace(issues, `"action": "opened"`, `"action": "suspend"`, 1)},
		{"installation carrying an issue", "installation", strings.Replace(deleted, `"action": "deleted",`, `"action": "deleted", "issue": {"id": 1},`, 1)},
		{"installation without its account", "installation", `{"action":"deleted","installation":{"id":4242,"app_id":1}}`},
		{"installation body as installation_repositories", "installation_repositories", strings.Replace(deleted, `"action": "deleted"`, `"action": "added"`, 1)},
		{"repositories event carrying a pull request", "installation_repositories", strings.Replace(added, `"action": "added",`, `"action": "added", "pull_request": {"id": 1},`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			in := parse(t, tt.event, body)
			if ch, ok := p.Lifecycle(in, body); ok {
				t.Fatalf("%s: %+v, want no lifecycle change", in.EventType, ch)
			}
		})
	}
}

// ConfirmLifecycle asks GitHub: the installation's state is GitHub's
// answer, and repositories are GitHub's list, whatever the webhook said.
func TestConfirmLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g, err := f.c.Exchange(ctx, install(t, f.sim, 42, "install"), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, tok := g.Connection, g.Token
	claim := func(status string) *relay.LifecycleChange {
		return &relay.LifecycleChange{AccountID: "42", Status: status, Reason: "claimed"}
	}

	// An uninstall claimed while GitHub still has the installation.
	ch, err := f.c.ConfirmLifecycle(ctx, conn, tok, claim(relay.ConnectionRevoked))
	if err != nil || ch.Status != relay.ConnectionActive || ch.Resources != nil {
		t.Fatalf("installation still there: %+v %v", ch, err)
	}
	// Suspended at GitHub: an unsuspend claim gets "suspended".
	f.sim.SuspendInstallation(42, true)
	if ch, err := f.c.ConfirmLifecycle(ctx, conn, tok, claim(relay.ConnectionActive)); err != nil || ch.Status != relay.ConnectionSuspended || ch.Reason == "" {
		t.Fatalf("suspended: %+v %v", ch, err)
	}
	f.sim.SuspendInstallation(42, false)

	// Repositories: GitHub's list, not the webhook's (which names 9 and 10).
	f.sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org", Repos: []simulator.GitHubRepo{
		{ID: 1296269, FullName: "octo-org/hello"}, {ID: 11, FullName: "octo-org/eleven"}}})
	repos := &relay.LifecycleChange{AccountID: "42", AddResources: []*relay.Resource{{ExternalID: "9"}, {ExternalID: "10"}}}
	ch, err = f.c.ConfirmLifecycle(ctx, conn, tok, repos)
	if err != nil || ch.Status != relay.ConnectionActive || !slices.Equal(resourceIDs(ch.Resources), []string{"1296269", "11"}) {
		t.Fatalf("repositories: %+v %v", ch, err)
	}
	// Without a usable token (expired, or none), one is minted to list them.
	for _, t0 := range []*relay.Token{nil, {AccessToken: "ghs_gone", ExpiresAt: f.now.Add(-time.Minute)}} {
		if ch, err := f.c.ConfirmLifecycle(ctx, conn, t0, repos); err != nil || len(ch.Resources) != 2 {
			t.Fatalf("token %v: %+v %v", t0, ch, err)
		}
	}

	// GitHub is down: nothing is decided.
	f.sim.FailNext("get_installation", 502, 1)
	if ch, err := f.c.ConfirmLifecycle(ctx, conn, tok, claim(relay.ConnectionRevoked)); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("GitHub down: %+v %v, want EUNAVAILABLE", ch, err)
	}

	// Uninstalled: 404 from GitHub.
	f.sim.RemoveInstallation(42)
	ch, err = f.c.ConfirmLifecycle(ctx, conn, tok, repos)
	if err != nil || ch.Status != relay.ConnectionRevoked || ch.Reason != "installation deleted" || ch.Resources != nil {
		t.Fatalf("uninstalled: %+v %v", ch, err)
	}
}
