package github_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
)

const day = 24 * time.Hour

// backfillSetup seeds 250 items of each entity over 60 days for every
// repository of installation 42 and installs it.
func backfillSetup(t *testing.T) (*fixture, *relay.Grant) {
	t.Helper()
	f := setup(t)
	f.sim.SeedHistory(250, 60*day)
	g, err := f.c.Exchange(context.Background(), install(t, f.sim, 42, "install"), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, g
}

// listAll fetches every page of a listing and returns its items and pages.
func listAll(t *testing.T, c *github.Connector, g *relay.Grant, r *relay.Resource, entity string, since time.Time) ([]*relay.BackfillItem, int) {
	t.Helper()
	var items []*relay.BackfillItem
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 50 {
			t.Fatalf("%s: the listing does not end", entity)
		}
		res, err := c.ListBackfillPage(context.Background(), g.Connection, g.Token, r, entity, since, cursor)
		if err != nil {
			t.Fatalf("%s page %d: %v", entity, pages, err)
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
	got := l.BackfillEntities()
	if len(got) != 3 || got["issues"] != "repository" || got["pull_requests"] != "repository" || got["releases"] != "repository" {
		t.Fatalf("%v", got)
	}
}

func TestListBackfillPage(t *testing.T) {
	f, g := backfillSetup(t)
	since := f.now.Add(-30 * day)
	// Issues and pull requests in the window: 125 each, so the issues
	// listing (which has both) is 250 items, three pages; the others stop
	// on their second page, once past since.
	wantPages := map[string]int{"issues": 3, "pull_requests": 2, "releases": 2}
	for _, r := range g.Resources {
		for entity := range f.c.BackfillEntities() {
			items, pages := listAll(t, f.c, g, r, entity, since)
			want := map[string]bool{}
			for _, h := range f.sim.History(r.ExternalID, entity) {
				if !h.UpdatedAt.Before(since) {
					want[relay.BackfillDeliveryID(entity, h.ID, h.UpdatedAt)] = true
				}
			}
			if len(want) != 125 || len(items) != len(want) || pages != wantPages[entity] {
				t.Fatalf("%s %s: %d items in %d pages, want %d in %d", r.Name, entity, len(items), pages, len(want), wantPages[entity])
			}
			seen := map[string]bool{}
			for _, it := range items {
				if !want[it.DeliveryID] || seen[it.DeliveryID] {
					t.Fatalf("%s %s: unexpected or repeated %s", r.Name, entity, it.DeliveryID)
				}
				seen[it.DeliveryID] = true
				checkItem(t, entity, r, since, it)
			}
		}
	}
}

// checkItem checks an item against its payload.
func checkItem(t *testing.T, entity string, r *relay.Resource, since time.Time, it *relay.BackfillItem) {
	t.Helper()
	var p struct {
		ID          int64            `json:"id"`
		State       string           `json:"state"`
		Draft       bool             `json:"draft"`
		UpdatedAt   time.Time        `json:"updated_at"`
		PublishedAt *time.Time       `json:"published_at"`
		CreatedAt   time.Time        `json:"created_at"`
		PullRequest *json.RawMessage `json:"pull_request"`
	}
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.ID == 0 {
		t.Fatalf("%s payload %s: %v", entity, it.Payload, err)
	}
	var at time.Time
	var event string
	switch entity {
	case "issues", "pull_requests":
		at = p.UpdatedAt
		event = map[string]string{"issues": "issues.", "pull_requests": "pull_request."}[entity] +
			map[string]string{"open": "opened", "closed": "closed"}[p.State]
		if p.PullRequest != nil {
			t.Fatalf("a pull request listed as an issue: %s", it.Payload)
		}
	case "releases":
		at, event = p.CreatedAt, "release.created"
		if !p.Draft {
			at, event = *p.PublishedAt, "release.published"
		}
	}
	if it.ResourceID != r.ExternalID || it.EventType != event || !it.UpdatedAt.Equal(at) || it.UpdatedAt.Before(since) {
		t.Fatalf("%s item %+v, payload %s", entity, it, it.Payload)
	}
}

func TestListBackfillPageRateLimit(t *testing.T) {
	f, g := backfillSetup(t)
	r, since := g.Resources[0], f.now.Add(-30*day)
	ctx := context.Background()

	// The simulator's fixed budget, then its own limit, read from x-ratelimit-*.
	res, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, "")
	if rl := res.RateLimit; err != nil || !rl.Known || rl.Limit != 5000 || rl.Remaining != 4999 || !rl.Reset.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	f.sim.SetRateLimit(2, time.Hour)
	res, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "issues", since, res.Next)
	if err != nil || !res.RateLimit.Known || res.RateLimit.Limit != 2 || res.RateLimit.Remaining != 1 || res.RateLimit.Reset.IsZero() {
		t.Fatalf("%+v %v", res.RateLimit, err)
	}
	if _, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "pull_requests", since, ""); err != nil {
		t.Fatal(err)
	}
	// Past the limit GitHub answers 403 with x-ratelimit-remaining 0: a
	// wait until the reset, an hour away, is not slept but returned.
	calls := f.sim.Calls("list-releases")
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "releases", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.OverLimit() != 1 || f.sim.Calls("list-releases") != calls+1 {
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
	if err != nil || len(res.Items) == 0 || f.sim.Calls("list-issues") != 2 {
		t.Fatalf("after a 503: %v, %d calls", err, f.sim.Calls("list-issues"))
	}
	// A 429 asking for longer than the client waits is returned with RetryAt.
	f.sim.RateLimitNext("list-pulls", 1, 10*time.Second)
	_, err = f.c.ListBackfillPage(ctx, g.Connection, g.Token, r, "pull_requests", since, "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || f.sim.Calls("list-pulls") != 1 {
		t.Fatalf("429: %v, retry at %v, %d calls", err, relay.RetryAt(err), f.sim.Calls("list-pulls"))
	}
	// A token GitHub refuses.
	_, err = f.c.ListBackfillPage(ctx, g.Connection, &relay.Token{AccessToken: "ghs_revoked"}, r, "releases", since, "")
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("bad token: %v", err)
	}

	tests := []struct {
		name   string
		r      *relay.Resource
		entity string
		cursor string
	}{
		{"unknown entity", r, "commits", ""},
		{"not owner/repo", &relay.Resource{ExternalID: "1", Name: "hello"}, "issues", ""},
		{"dot dot", &relay.Resource{ExternalID: "1", Name: "octo-org/.."}, "issues", ""},
		{"cursor on another host", r, "issues", "https://evil.example/repos/" + r.Name + "/issues?page=2"},
		{"cursor of another listing", r, "issues", f.sim.URL() + "/repos/" + r.Name + "/pulls?page=2"},
	}
	for _, tt := range tests {
		if _, err := f.c.ListBackfillPage(ctx, g.Connection, g.Token, tt.r, tt.entity, since, tt.cursor); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// A repository without history lists nothing, in one page.
func TestListBackfillPageEmpty(t *testing.T) {
	f := setup(t)
	g, err := f.c.Exchange(context.Background(), install(t, f.sim, 42, "install"), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	for entity := range f.c.BackfillEntities() {
		if items, pages := listAll(t, f.c, g, g.Resources[0], entity, f.now.Add(-30*day)); len(items) != 0 || pages != 1 {
			t.Fatalf("%s: %d items, %d pages", entity, len(items), pages)
		}
	}
}
