package relay

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Routes is a snapshot of the live destinations: the table every event is
// routed by, whether it is received, backfilled, operational or released
// after being held.
type Routes []*Destination

// For returns the destinations an event goes to.
func (rs Routes) For(e *Event) []*Destination {
	var out []*Destination
	for _, d := range rs {
		if d.Matches(e.Provider, e.EventType, e.OrgID) {
			out = append(out, d)
		}
	}
	return out
}

// OrgFiltered reports whether any destination is filtered to an org.
func (rs Routes) OrgFiltered() bool {
	for _, d := range rs {
		if d.OrgID != "" {
			return true
		}
	}
	return false
}

// Hold applies the hold rule to an event its connection's matching left
// MatchUnmatched, and reports whether the event is held for release. It is
// held only while some destination is filtered to an org: with none there
// is nobody to release it to, and holding would only grow the index of
// held events, so it becomes MatchNone.
func (rs Routes) Hold(e *Event) bool {
	if e.Match != MatchUnmatched {
		return false
	}
	if !rs.OrgFiltered() {
		e.Match = MatchNone
		return false
	}
	return true
}

// ForRelease returns the destinations an org's held events go to when
// released: the enabled ones filtered to that org. Destinations filtered
// to no org got their deliveries when the events arrived.
func (rs Routes) ForRelease(orgID string) []*Destination {
	var out []*Destination
	for _, d := range rs {
		if d.OrgID == orgID && !d.Disabled {
			out = append(out, d)
		}
	}
	return out
}

// PlanEvent returns the item that stores e with its deliveries: one
// pending delivery to each of dsts, from the event's source, due now,
// carrying the destination's order key for e.
func PlanEvent(e *Event, dsts []*Destination, now time.Time) *IngestItem {
	it := &IngestItem{Event: e, Deliveries: make([]*Delivery, len(dsts))}
	for i, d := range dsts {
		it.Deliveries[i] = &Delivery{ID: NewID("dlv", now), EventID: e.ID, DestinationID: d.ID,
			Status: DeliveryPending, Source: e.Source, OrderKey: d.OrderKey(e), NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	}
	return it
}

// LeaseTo has the item's deliveries written leased to owner until until,
// so that the replica storing them can send them at once without a claim.
// The store makes them due again at until, as a claim does: only a
// lease that runs out hands them to someone else. Ordered deliveries
// (Delivery.Ordered) are written unleased whatever the item says: their
// turn is decided by ClaimDue only.
func (it *IngestItem) LeaseTo(owner string, until time.Time) {
	it.LeaseOwner, it.LeaseUntil = owner, until
}

// HeldEvent is an event held for release, as Store.ReleaseHeld finds it.
type HeldEvent struct {
	ID        string
	EventType string
	Source    string
	// ResourceID and Payload are what ordered destinations key on.
	ResourceID string
	Payload    json.RawMessage
}

// Plan returns the deliveries that releasing held to r's connection
// creates: one pending delivery to each of r.Destinations the event
// matches, from the event's source, with the destination's order key. It sorts held into arrival order (ids
// are time-ordered) and makes the events due a millisecond apart from
// r.Now, because claims order a destination's deliveries by due time only.
func (r HeldRelease) Plan(held []HeldEvent) []*Delivery {
	slices.SortFunc(held, func(a, b HeldEvent) int { return strings.Compare(a.ID, b.ID) })
	now := r.Now.UTC()
	var out []*Delivery
	for i, ev := range held {
		due := now.Add(time.Duration(i) * time.Millisecond)
		e := &Event{ID: ev.ID, Provider: r.Provider, EventType: ev.EventType, Source: ev.Source, AccountID: r.AccountID,
			ResourceID: ev.ResourceID, OrgID: r.OrgID, ConnectionID: r.ConnectionID, Payload: ev.Payload}
		for _, d := range r.Destinations {
			if !d.Matches(r.Provider, ev.EventType, r.OrgID) {
				continue
			}
			out = append(out, &Delivery{ID: NewID("dlv", now), EventID: ev.ID, DestinationID: d.ID,
				Status: DeliveryPending, Source: ev.Source, OrderKey: d.OrderKey(e), NextAttemptAt: due, CreatedAt: now, UpdatedAt: now})
		}
	}
	return out
}

// Reservation is room the delivery engine holds in memory for deliveries
// being committed already leased to this replica. Its holder ends it
// exactly once: with Dispatch once the commit is done, or Cancel when it
// failed.
type Reservation interface {
	// Dispatch hands over the committed deliveries (leased, with their
	// event and destination) and frees the room reserved for the others
	// (duplicates, which were not written).
	Dispatch(claims []*Claim)
	// Cancel frees all the room: nothing was written.
	Cancel()
}
