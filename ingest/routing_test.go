package ingest_test

import (
	"context"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/ingest"
)

// matchFunc is an ingest.Matcher.
type matchFunc func(context.Context, *relay.Event)

func (f matchFunc) Match(ctx context.Context, e *relay.Event) { f(ctx, e) }

// fixedRoutes is an ingest.RouteTable.
type fixedRoutes relay.Routes

func (r fixedRoutes) Routes() relay.Routes { return relay.Routes(r) }

func TestIngestRouterHoldsOnlyForOrgDestinations(t *testing.T) {
	unknown := matchFunc(func(_ context.Context, e *relay.Event) { e.Match = relay.MatchUnmatched })
	for _, tc := range []struct {
		orgFiltered bool
		want        string
	}{{true, relay.MatchUnmatched}, {false, relay.MatchNone}} {
		var routes fixedRoutes
		if tc.orgFiltered {
			routes = fixedRoutes{{ID: "dst_org", OrgID: "org_a", Providers: []string{"elsewhere"}}}
		}
		e := &relay.Event{AccountID: "a"}
		ingest.Routing{Matcher: unknown, Routes: routes}.Route(context.Background(), e)
		if e.Match != tc.want {
			t.Errorf("org-filtered destinations %v: match %q, want %q", tc.orgFiltered, e.Match, tc.want)
		}
	}
}

type reqKey struct{}

// Matching an event to its connection may read the store: it runs under
// the request's context, and a held event is announced.
func TestSubmitMatchesUnderTheRequestsContext(t *testing.T) {
	var seen any
	var held []*relay.Event
	routing := ingest.Routing{
		Matcher: matchFunc(func(ctx context.Context, e *relay.Event) {
			seen = ctx.Value(reqKey{})
			e.Match = relay.MatchUnmatched
		}),
		Routes: fixedRoutes{{ID: "dst_org", OrgID: "org_a"}},
		Held:   func(e *relay.Event) { held = append(held, e) },
	}
	_, _, p := setupRouted(t, 10, func(*relay.Destination) ingest.Router { return routing })
	ctx := context.WithValue(context.Background(), reqKey{}, "request")
	if _, err := p.Submit(ctx, event("ctx-1")); err != nil {
		t.Fatal(err)
	}
	if seen != "request" {
		t.Fatalf("matcher saw context value %v, want request", seen)
	}
	if len(held) != 1 || held[0].DeliveryID != "ctx-1" {
		t.Fatalf("held %v, want the event", held)
	}
}
