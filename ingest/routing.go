package ingest

import (
	"context"

	"github.com/relayhq/relay"
)

// Matcher sets an event's OrgID, ConnectionID and Match from the
// connection that owns its account; it may read the store under ctx.
type Matcher interface {
	Match(ctx context.Context, e *relay.Event)
}

// RouteTable returns the live destinations to route by.
type RouteTable interface {
	Routes() relay.Routes
}

// Routing is the Router of received webhooks: it matches each event to
// its connection's org before choosing its destinations, so org-filtered
// destinations see only their org's events, and applies the hold rule
// (relay.Routes.Hold) to events of unknown accounts.
type Routing struct {
	// Matcher, when nil (no connections), leaves events as they are:
	// MatchNone, routed to destinations that filter on no org.
	Matcher Matcher
	Routes  RouteTable
	// Held, when set, is told of each event held for release; it must not
	// block (identity repair resolves the account outside the request).
	Held func(*relay.Event)
}

// Route matches e under ctx, the request's, and returns its destinations.
func (r Routing) Route(ctx context.Context, e *relay.Event) []*relay.Destination {
	if r.Matcher != nil {
		r.Matcher.Match(ctx, e)
	}
	routes := r.Routes.Routes()
	if routes.Hold(e) && r.Held != nil {
		r.Held(e)
	}
	return routes.For(e)
}
