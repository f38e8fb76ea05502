package backfill

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// A page's items become events in the order of the provider's updated-at,
// whatever order the page lists them in: event ids are arrival order, so an
// ordered destination receives a key's backfilled items oldest change first.
func TestPageItemsGetIDsInUpdatedAtOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	dst := &relay.Destination{ID: "dst_1", Ordering: relay.OrderingResource}
	s := &Service{now: func() time.Time { return t0 }, route: func(*relay.Event) []*relay.Destination { return []*relay.Destination{dst} }}
	page := []*relay.BackfillItem{
		{DeliveryID: "c", ResourceID: "r", EventType: "issues.closed", UpdatedAt: t0.Add(-1 * time.Hour)},
		{DeliveryID: "a", ResourceID: "r", EventType: "issues.opened", UpdatedAt: t0.Add(-3 * time.Hour)},
		{DeliveryID: "b", ResourceID: "r", EventType: "issues.opened", UpdatedAt: t0.Add(-2 * time.Hour)},
	}
	items, dsts := s.items(&relay.Connection{ID: "con_1", Provider: "github"}, page, t0.Add(-24*time.Hour), t0)
	if len(items) != 3 || len(dsts) != 3 {
		t.Fatalf("%d items, %d destination lists", len(items), len(dsts))
	}
	for i, it := range items {
		if len(dsts[i]) != len(it.Deliveries) || dsts[i][0].ID != it.Deliveries[0].DestinationID {
			t.Fatalf("item %d: destinations %v do not match its deliveries", i, dsts[i])
		}
	}
	for i, want := range []string{"a", "b", "c"} {
		if got := items[i].Event.DeliveryID; got != want {
			t.Fatalf("item %d is %s, want %s (oldest update first)", i, got, want)
		}
		if i > 0 && items[i].Event.ID <= items[i-1].Event.ID {
			t.Fatalf("event ids not increasing in updated-at order")
		}
		if k := items[i].Deliveries[0].OrderKey; k != relay.BackfillOrderPrefix+"r" {
			t.Fatalf("order key %q, want the backfill line of r", k)
		}
	}
}
