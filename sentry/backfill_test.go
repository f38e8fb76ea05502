package sentry_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

const day = 24 * time.Hour

// backfillSetup seeds 250 issues over 60 days in every project and
// installs the integration.
func backfillSetup(t *testing.T) (*fixture, *relay.Grant) {
	t.Helper()
	f := setup(t)
	f.sim.SeedHistory(250, 60*day)
	g, err := f.c.Exchange(context.Background(), f.install(t), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, g
}

func TestBackfillEntities(t *testing.T) {
	f := setup(t)
	var l relay.BackfillLister = f.c
	if got := l.BackfillEntities(); len(got) != 1 || got["issues"] != "project" {
		t.Fatalf("%v", got)
	}
}

func TestListBackfillPage(t *testing.T) {
	f, g := backfillSetup(t)
	since := f.now.Add(-30 * day)
	for _, r := range g.Resources {
		var items []*relay.BackfillItem
		cursor, pages := "", 0
		for {
			if pages++; pages > 50 {
				t.Fatal("the listing does not end")
			}
			res, err := f.c.ListBackfillPage(context.Background(), g.Connection, g.Token, r, "issues", since, cursor)
			if err != nil {
				t.Fatalf("%s page %d: %v", r.Name, pages, err)
			}
			items = append(items, res.Items...)
			if cursor = res.Next; cursor == "" {
				break
			}
		}
		want := map[string]bool{}
		for _, h := range f.sim.History(r.ExternalID, "issues") {
			if !h.UpdatedAt.Before(since) {
				want[relay.BackfillDeliveryID("issues", h.ID, h.UpdatedAt)] = true
			}
		}
		// Resolved and ignored issues too (an explicit query lifts Sentry's
		// default is:unresolved): 125 in the window, two pages.
		if len(want) != 125 || len(items) != len(want) || pages != 2 {
			t.Fatalf("%s: %d items in %d pages, want %d in 2", r.Name, len(items), pages, len(want))
		}
		seen, events := map[string]bool{}, map[string]int{}
		for _, it := range items {
			if !want[it.DeliveryID] || seen[it.DeliveryID] {
				t.Fatalf("%s: unexpected or repeated %s", r.Name, it.DeliveryID)
			}
			seen[it.DeliveryID] = true
			var p struct {
				ID       string    `json:"id"`
				Status   string    `json:"status"`
				LastSeen time.Time `json:"lastSeen"`
				Project  struct {
					ID string `json:"id"`
				} `json:"project"`
			}
			if err := json.Unmarshal(it.Payload, &p); err != nil || p.ID == "" {
				t.Fatalf("payload %s: %v", it.Payload, err)
			}
			event := map[string]string{"unresolved": "issue.created", "resolved": "issue.resolved", "ignored": "issue.ignored"}[p.Status]
			if it.ResourceID != r.ExternalID || p.Project.ID != r.ExternalID || it.EventType != event ||
				!it.UpdatedAt.Equal(p.LastSeen) || it.UpdatedAt.Before(since) {
				t.Fatalf("item %+v, payload %s", it, it.Payload)
			}
			events[it.EventType]++
		}
		if len(events) != 3 {
			t.Fatalf("event types %v", events)
		}
	}
}

func TestListBackfillPageRateLimit(t *testing.T) {
	f, g := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// The simulator's fixed budget, then its own limit.
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if rl := res.RateLimit; err != nil || !rl.Known || rl.Limit != 40 || rl.Remaining != 39 || !rl.Reset.Equal(f.now.Add(time.Second)) {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	f.sim.SetRateLimit(1, time.Hour)
	res, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, res.Next)
	if err != nil || !res.RateLimit.Known || res.RateLimit.Limit != 1 || res.RateLimit.Remaining != 0 || res.RateLimit.Reset.IsZero() {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	// Past the limit Sentry answers 429: the wait until the reset, an hour
	// away, is not slept but returned.
	calls := f.sim.Calls("list-issues")
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.OverLimit() != 1 || f.sim.Calls("list-issues") != calls+1 {
		t.Fatalf("over the limit: %v, retry at %v, over limit %d", err, relay.RetryAt(err), f.sim.OverLimit())
	}
}

func TestListBackfillPageErrors(t *testing.T) {
	f, g := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// A 503 once is retried.
	f.sim.FailNext("list-issues", 503, 1)
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if err != nil || len(res.Items) != 100 || f.sim.Calls("list-issues") != 2 {
		t.Fatalf("after a 503: %v, %d calls", err, f.sim.Calls("list-issues"))
	}
	// A 429 asking for longer than the client waits is returned with RetryAt.
	f.sim.RateLimitNext("list-issues", 1, 10*time.Second)
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.Calls("list-issues") != 3 {
		t.Fatalf("429: %v, retry at %v, %d calls", err, relay.RetryAt(err), f.sim.Calls("list-issues"))
	}
	// A token Sentry refuses.
	_, err = f.c.ListBackfillPage(ctx, g.Connection, &relay.Token{AccessToken: "expired"}, r, "issues", since, "")
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("bad token: %v", err)
	}
	// The organization falls back to AccountName.
	conn := &relay.Connection{Provider: "sentry", AccountName: "acme"}
	if _, err := f.c.ListBackfillPage(ctx, conn, g.Token, r, "issues", since, ""); err != nil {
		t.Fatalf("AccountName: %v", err)
	}

	issues := f.sim.URL() + "/api/0/projects/acme/" + r.Name + "/issues/"
	tests := []struct {
		name   string
		conn   *relay.Connection
		r      *relay.Resource
		entity string
		cursor string
	}{
		{"unknown entity", g.Connection, r, "events", ""},
		{"no organization", &relay.Connection{Provider: "sentry"}, r, "issues", ""},
		{"no project slug", g.Connection, &relay.Resource{ExternalID: "1"}, "issues", ""},
		{"cursor on another host", g.Connection, r, "issues", "https://evil.example/api/0/projects/acme/" + r.Name + "/issues/?cursor=1:0:0"},
		{"cursor of another project", g.Connection, r, "issues", f.sim.URL() + "/api/0/projects/acme/other/issues/?cursor=1:0:0"},
	}
	for _, tt := range tests {
		if _, err := f.c.ListBackfillPage(ctx, tt.conn, g.Token, tt.r, tt.entity, since, tt.cursor); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if _, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, issues+"?cursor=1:0:0"); err != nil {
		t.Fatalf("own cursor: %v", err)
	}
}
