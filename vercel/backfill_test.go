package vercel_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vercel"
)

const day = 24 * time.Hour

// backfillSetup seeds 250 deployments over 60 days in every project and
// installs the team configuration (five projects) and the personal one.
func backfillSetup(t *testing.T) (f *fixture, team, personal *relay.Grant) {
	t.Helper()
	f = setup(t)
	f.sim.SeedHistory(250, 60*day)
	var err error
	if team, err = f.c.Exchange(context.Background(), f.install(t, "cfg-team"), callback, ""); err != nil {
		t.Fatal(err)
	}
	if personal, err = f.c.Exchange(context.Background(), f.install(t, "cfg-user"), callback, ""); err != nil {
		t.Fatal(err)
	}
	return f, team, personal
}

// listAll fetches every page of a project's deployments and returns their
// items and the pages.
func listAll(t *testing.T, c *vercel.Connector, g *relay.Grant, r *relay.Resource, since time.Time) ([]*relay.BackfillItem, int) {
	t.Helper()
	var items []*relay.BackfillItem
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 50 {
			t.Fatal("the listing does not end")
		}
		res, err := c.ListBackfillPage(context.Background(), g.Connection, g.Token, r, "deployments", since, cursor)
		if err != nil {
			t.Fatalf("%s page %d: %v", r.Name, pages, err)
		}
		items = append(items, res.Items...)
		if res.Next == "" {
			return items, pages
		}
		cursor = res.Next
	}
}

func TestBackfillEntities(t *testing.T) {
	f := setup(t)
	var l relay.BackfillLister = f.c
	if got := l.BackfillEntities(); len(got) != 1 || got["deployments"] != "project" {
		t.Fatalf("%v", got)
	}
}

func TestListBackfillPage(t *testing.T) {
	f, team, personal := backfillSetup(t)
	since := f.now.Add(-30 * day)
	events := map[string]int{}
	// The team's listings succeed only because teamId is sent: the
	// simulator refuses a team's token without it (see TestListBackfillPageErrors).
	for _, g := range []*relay.Grant{team, personal} {
		for _, r := range g.Resources {
			items, pages := listAll(t, f.c, g, r, since)
			want := map[string]bool{}
			for _, h := range f.sim.History(r.ExternalID, "deployments") {
				if !h.UpdatedAt.Before(since) {
					want[relay.BackfillDeliveryID("deployments", h.ID, h.UpdatedAt)] = true
				}
			}
			// 125 in the window: a page of 100, then one of 25 that Vercel
			// ends (since is sent) with next null.
			if len(want) != 125 || len(items) != len(want) || pages != 2 {
				t.Fatalf("%s: %d items in %d pages, want %d in 2", r.Name, len(items), pages, len(want))
			}
			seen := map[string]bool{}
			for _, it := range items {
				if !want[it.DeliveryID] || seen[it.DeliveryID] {
					t.Fatalf("%s: unexpected or repeated %s", r.Name, it.DeliveryID)
				}
				seen[it.DeliveryID] = true
				var p struct {
					UID        string `json:"uid"`
					Created    int64  `json:"created"`
					ReadyState string `json:"readyState"`
					ProjectID  string `json:"projectId"`
				}
				if err := json.Unmarshal(it.Payload, &p); err != nil || p.UID == "" {
					t.Fatalf("payload %s: %v", it.Payload, err)
				}
				event := map[string]string{"READY": "deployment.succeeded", "ERROR": "deployment.error",
					"CANCELED": "deployment.canceled", "BUILDING": "deployment.created", "QUEUED": "deployment.created"}[p.ReadyState]
				if it.ResourceID != r.ExternalID || p.ProjectID != r.ExternalID || it.EventType != event ||
					!it.UpdatedAt.Equal(time.UnixMilli(p.Created)) || it.UpdatedAt.Before(since) {
					t.Fatalf("item %+v, payload %s", it, it.Payload)
				}
				events[it.EventType]++
			}
		}
	}
	if len(events) != 4 {
		t.Fatalf("event types %v", events)
	}
}

// A since between two milliseconds asks for the next whole one, so nothing
// created before since is listed; a project without history lists nothing
// in one page.
func TestListBackfillPageEdges(t *testing.T) {
	f, team, _ := backfillSetup(t)
	r := team.Resources[0]
	h := f.sim.History(r.ExternalID, "deployments")
	since := h[len(h)-3].UpdatedAt.Add(-time.Microsecond)
	items, pages := listAll(t, f.c, team, r, since)
	if len(items) != 3 || pages != 1 {
		t.Fatalf("%d items in %d pages", len(items), pages)
	}
	if items, pages = listAll(t, f.c, team, r, since.Add(2*time.Microsecond)); len(items) != 2 || pages != 1 {
		t.Fatalf("since just after: %d items in %d pages", len(items), pages)
	}

	f.sim.SeedHistory(0, 0)
	if items, pages := listAll(t, f.c, team, r, f.now.Add(-30*day)); len(items) != 0 || pages != 1 {
		t.Fatalf("no history: %d items in %d pages", len(items), pages)
	}
}

func TestListBackfillPageRateLimit(t *testing.T) {
	f, g, _ := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// The simulator's fixed budget, then its own limit, read from X-RateLimit-*.
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "deployments", since, "")
	if rl := res.RateLimit; err != nil || !rl.Known || rl.Limit != 100 || rl.Remaining != 99 || !rl.Reset.Equal(f.now.Add(time.Minute)) {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	f.sim.SetRateLimit(1, time.Hour)
	res, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "deployments", since, res.Next)
	if err != nil || !res.RateLimit.Known || res.RateLimit.Limit != 1 || res.RateLimit.Remaining != 0 || res.RateLimit.Reset.IsZero() {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	// Past the limit Vercel answers 429: the wait until the reset, an hour
	// away, is not slept but returned.
	calls := f.sim.Calls("list-deployments")
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "deployments", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || time.Until(relay.RetryAt(err)) < 30*time.Minute || f.sim.OverLimit() != 1 ||
		f.sim.Calls("list-deployments") != calls+1 {
		t.Fatalf("over the limit: %v, retry at %v, over limit %d", err, relay.RetryAt(err), f.sim.OverLimit())
	}
}

func TestListBackfillPageErrors(t *testing.T) {
	f, g, personal := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// A 503 once is retried.
	f.sim.FailNext("list-deployments", 503, 1)
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "deployments", since, "")
	if err != nil || len(res.Items) != 100 || res.Next == "" || f.sim.Calls("list-deployments") != 2 {
		t.Fatalf("after a 503: %v, %d calls", err, f.sim.Calls("list-deployments"))
	}
	// A 429 is returned at once with RetryAt (DeferLimits), not retried.
	f.sim.RateLimitNext("list-deployments", 1, 10*time.Second)
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "deployments", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.Calls("list-deployments") != 3 {
		t.Fatalf("429: %v, retry at %v, %d calls", err, relay.RetryAt(err), f.sim.Calls("list-deployments"))
	}
	// A token Vercel refuses (403 invalidToken) is EUNAUTHORIZED, and not
	// retried.
	_, err = f.c.ListBackfillPage(ctx, g.Connection, &relay.Token{AccessToken: "vca_revoked"}, r, "deployments", since, "")
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED || f.sim.Calls("list-deployments") != 4 {
		t.Fatalf("bad token: %v, %d calls", err, f.sim.Calls("list-deployments"))
	}
	noSecrets(t, err, "vca_revoked", g.Token.AccessToken)

	tests := []struct {
		name   string
		conn   *relay.Connection
		tok    *relay.Token
		r      *relay.Resource
		entity string
		cursor string
	}{
		{"unknown entity", g.Connection, g.Token, r, "builds", ""},
		{"no token", g.Connection, nil, r, "deployments", ""},
		{"no project id", g.Connection, g.Token, &relay.Resource{Name: "web"}, "deployments", ""},
		{"cursor not a number", g.Connection, g.Token, r, "deployments", "next"},
		{"cursor negative", g.Connection, g.Token, r, "deployments", "-1715702882000"},
		{"cursor not canonical", g.Connection, g.Token, r, "deployments", "+1715702882000"},
		{"cursor fractional", g.Connection, g.Token, r, "deployments", "1715702882000.5"},
		// Vercel's own refusals: a team's token without its teamId (403,
		// not invalidToken), a project of another account (404).
		{"team token without teamId", &relay.Connection{Provider: "vercel", ExternalID: "team_1"}, g.Token, r, "deployments", ""},
		{"project of another account", personal.Connection, personal.Token, r, "deployments", ""},
	}
	for _, tt := range tests {
		if _, err := f.c.ListBackfillPage(ctx, tt.conn, tt.tok, tt.r, tt.entity, since, tt.cursor); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
