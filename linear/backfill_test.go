package linear_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
)

const day = 24 * time.Hour

// backfillSetup seeds 250 issues and 250 comments over 60 days in every
// team and connects the workspace.
func backfillSetup(t *testing.T) (*fixture, *relay.Grant) {
	t.Helper()
	f := setup(t, linear.ConnectorConfig{})
	f.sim.SeedHistory(250, 60*day)
	return f, f.connect(t)
}

// listAll pages through one (team, entity) listing.
func listAll(t *testing.T, f *fixture, g *relay.Grant, r *relay.Resource, entity string, since time.Time) ([]*relay.BackfillItem, int) {
	t.Helper()
	var items []*relay.BackfillItem
	cursor, pages := "", 0
	for {
		if pages++; pages > 50 {
			t.Fatal("the listing does not end")
		}
		res, err := f.c.ListBackfillPage(context.Background(), g.Connection, g.Token, r, entity, since, cursor)
		if err != nil {
			t.Fatalf("%s %s page %d: %v", r.Name, entity, pages, err)
		}
		items = append(items, res.Items...)
		if cursor = res.Next; cursor == "" {
			return items, pages
		}
	}
}

func TestBackfillEntities(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	var l relay.BackfillLister = f.c
	if got := l.BackfillEntities(); len(got) != 2 || got["issues"] != "team" || got["comments"] != "team" {
		t.Fatalf("%v", got)
	}
}

func TestListBackfillPage(t *testing.T) {
	f, g := backfillSetup(t)
	since := f.now.Add(-30 * day)
	if len(g.Resources) != 3 {
		t.Fatalf("resources %d", len(g.Resources))
	}
	for _, r := range g.Resources {
		for _, entity := range []string{"issues", "comments"} {
			items, pages := listAll(t, f, g, r, entity, since)
			want := map[string]bool{}
			for _, h := range f.sim.History(r.ExternalID, entity) {
				if !h.UpdatedAt.Before(since) {
					want[relay.BackfillDeliveryID(entity, h.ID, h.UpdatedAt)] = true
				}
			}
			// 125 in the window: two pages of 100.
			if len(want) != 125 || len(items) != len(want) || pages != 2 {
				t.Fatalf("%s %s: %d items in %d pages, want %d in 2", r.Name, entity, len(items), pages, len(want))
			}
			seen, events := map[string]bool{}, map[string]int{}
			for _, it := range items {
				if !want[it.DeliveryID] || seen[it.DeliveryID] {
					t.Fatalf("%s: unexpected or repeated %s", r.Name, it.DeliveryID)
				}
				seen[it.DeliveryID] = true
				var p struct {
					ID        string    `json:"id"`
					CreatedAt time.Time `json:"createdAt"`
					UpdatedAt time.Time `json:"updatedAt"`
					Team      struct {
						ID string `json:"id"`
					} `json:"team"`
					Issue *struct {
						ID string `json:"id"`
					} `json:"issue"`
				}
				if err := json.Unmarshal(it.Payload, &p); err != nil || p.ID == "" {
					t.Fatalf("payload %s: %v", it.Payload, err)
				}
				typ := map[string]string{"issues": "Issue", "comments": "Comment"}[entity]
				event := typ + ".update"
				if p.CreatedAt.Equal(p.UpdatedAt) {
					event = typ + ".create"
				}
				if it.ResourceID != r.ExternalID || it.EventType != event || !it.UpdatedAt.Equal(p.UpdatedAt) || it.UpdatedAt.Before(since) ||
					(entity == "issues" && p.Team.ID != r.ExternalID) || (entity == "comments" && (p.Issue == nil || p.Issue.ID == "")) {
					t.Fatalf("item %+v, payload %s", it, it.Payload)
				}
				events[it.EventType]++
			}
			if len(events) != 2 {
				t.Fatalf("%s event types %v", entity, events)
			}
		}
	}
}

func TestListBackfillPageRateLimit(t *testing.T) {
	f, g := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// Linear's fixed budget, then the simulator's own limit.
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if rl := res.RateLimit; err != nil || !rl.Known || rl.Limit != 1500 || rl.Remaining >= 1500 || rl.Reset.IsZero() {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	f.sim.SetRateLimit(1, time.Hour)
	res, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, res.Next)
	if err != nil || res.RateLimit.Limit != 1 || res.RateLimit.Remaining != 0 || !res.RateLimit.Reset.After(time.Now()) {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	// Past the limit Linear answers RATELIMITED: the wait until the reset,
	// an hour away, is not slept but returned.
	calls := f.sim.Calls("list-issues")
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).Before(time.Now().Add(30*time.Minute)) ||
		f.sim.OverLimit() != 1 || f.sim.Calls("list-issues") != calls+1 {
		t.Fatalf("over the limit: %v, retry at %v, over limit %d", err, relay.RetryAt(err), f.sim.OverLimit())
	}
}

func TestListBackfillPageErrors(t *testing.T) {
	f, g := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// A 503 once is retried.
	f.sim.FailNext("list-comments", 503, 1)
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "comments", since, "")
	if err != nil || len(res.Items) != 100 || f.sim.Calls("list-comments") != 2 {
		t.Fatalf("after a 503: %v, %d calls", err, f.sim.Calls("list-comments"))
	}
	// A 429 with Retry-After is returned with RetryAt, not slept.
	f.sim.RateLimitNext("list-comments", 1, 10*time.Second)
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "comments", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.Calls("list-comments") != 3 {
		t.Fatalf("429: %v, retry at %v, %d calls", err, relay.RetryAt(err), f.sim.Calls("list-comments"))
	}
	// A token Linear refuses (a GraphQL AUTHENTICATION_ERROR in a 200).
	_, err = f.c.ListBackfillPage(ctx, g.Connection, &relay.Token{AccessToken: "expired"}, r, "issues", since, "")
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("bad token: %v", err)
	}
	noSecrets(t, err, g.Token.AccessToken)

	tests := []struct {
		name   string
		r      *relay.Resource
		entity string
		cursor string
	}{
		{"unknown entity", r, "projects", ""},
		{"no team id", &relay.Resource{Name: "x"}, "issues", ""},
		{"team of another workspace", &relay.Resource{ExternalID: "t-other"}, "issues", ""},
		{"comments of another workspace's team", &relay.Resource{ExternalID: "t-other"}, "comments", ""},
		{"cursor Linear never gave", r, "issues", "bm9wZQ=="},
	}
	for _, tt := range tests {
		if _, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, tt.r, tt.entity, since, tt.cursor); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// A window with nothing in it is one empty page.
	res, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", f.now.Add(time.Hour), "")
	if err != nil || len(res.Items) != 0 || res.Next != "" {
		t.Fatalf("empty window: %+v %v", res, err)
	}
}
