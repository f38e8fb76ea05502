package relay_test

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

func TestRoutesHoldOnlyForOrgDestinations(t *testing.T) {
	all := &relay.Destination{ID: "dst_all"}
	org := &relay.Destination{ID: "dst_org", OrgID: "org_a"}
	for _, tc := range []struct {
		routes relay.Routes
		held   bool
		want   string
	}{{relay.Routes{all, org}, true, relay.MatchUnmatched}, {relay.Routes{all}, false, relay.MatchNone}} {
		e := &relay.Event{AccountID: "a", Match: relay.MatchUnmatched}
		if held := tc.routes.Hold(e); held != tc.held || e.Match != tc.want {
			t.Errorf("%d destinations: held %v, match %q; want %v, %q", len(tc.routes), held, e.Match, tc.held, tc.want)
		}
	}
}

func TestPlanReleaseKeepsArrivalOrder(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	issues := &relay.Destination{ID: "dst_issues", OrgID: "org_a", EventTypes: []string{"issues.*"}}
	other := &relay.Destination{ID: "dst_other", OrgID: "org_b"}
	r := relay.HeldRelease{Provider: "github", AccountID: "1", OrgID: "org_a", ConnectionID: "con_1",
		Destinations: []*relay.Destination{issues, other}, Now: now}
	first, second := relay.NewID("evt", now), relay.NewID("evt", now)
	held := []relay.HeldEvent{
		{ID: second, EventType: "issues.closed", Source: relay.SourceLive},
		{ID: first, EventType: "issues.opened", Source: relay.SourceBackfill},
	}
	got := r.Plan(held)
	if len(got) != 2 {
		t.Fatalf("planned %d deliveries, want 2", len(got))
	}
	for i, want := range []struct {
		event, source string
		due           time.Time
	}{{first, relay.SourceBackfill, now}, {second, relay.SourceLive, now.Add(time.Millisecond)}} {
		d := got[i]
		if d.EventID != want.event || d.Source != want.source || !d.NextAttemptAt.Equal(want.due) ||
			d.DestinationID != issues.ID || d.Status != relay.DeliveryPending {
			t.Errorf("delivery %d: %+v, want event %s source %s due %v", i, d, want.event, want.source, want.due)
		}
	}
}

func TestForReleaseTakesTheOrgsEnabledDestinations(t *testing.T) {
	routes := relay.Routes{
		{ID: "dst_all"},
		{ID: "dst_a", OrgID: "org_a"},
		{ID: "dst_a_off", OrgID: "org_a", Disabled: true},
		{ID: "dst_b", OrgID: "org_b"},
	}
	got := routes.ForRelease("org_a")
	if len(got) != 1 || got[0].ID != "dst_a" {
		t.Fatalf("released to %v, want [dst_a]", got)
	}
}
