package relay_test

import (
	"encoding/json"
	"testing"

	"github.com/relayhq/relay"
)

func TestOrderKey(t *testing.T) {
	e := &relay.Event{Source: relay.SourceLive, ResourceID: "repo/1#2", AccountID: "acct", ConnectionID: "con_1",
		Payload: json.RawMessage(`{"issue": {"id": 42, "key": "ENG-1", "labels": ["a", "b"], "nil": null, "obj": {}}, "ok": true}`)}
	for _, tc := range []struct{ ordering, want string }{
		{"", ""}, {relay.OrderingNone, ""},
		{relay.OrderingResource, "repo/1#2"}, {relay.OrderingAccount, "acct"}, {relay.OrderingConnection, "con_1"},
		{"$.issue.id", "42"}, {"$.issue.key", "ENG-1"}, {"$.issue.labels.1", "b"}, {"$.ok", "true"},
		{"$.issue.nil", ""}, {"$.issue.obj", ""}, {"$.issue.missing", ""}, {"$.issue.labels.9", ""},
	} {
		d := &relay.Destination{Ordering: tc.ordering}
		if got := d.OrderKey(e); got != tc.want {
			t.Errorf("ordering %q: key %q, want %q", tc.ordering, got, tc.want)
		}
	}
	// A backfilled event's key is its own line.
	bf := *e
	bf.Source = relay.SourceBackfill
	if got := (&relay.Destination{Ordering: relay.OrderingResource}).OrderKey(&bf); got != relay.BackfillOrderPrefix+"repo/1#2" {
		t.Errorf("backfill key %q", got)
	}
	// No value, no key: unordered, even for a backfill.
	bf.ResourceID = ""
	if got := (&relay.Destination{Ordering: relay.OrderingResource}).OrderKey(&bf); got != "" {
		t.Errorf("empty resource gave key %q", got)
	}
}

func TestValidateOrdering(t *testing.T) {
	base := func() *relay.Destination {
		return &relay.Destination{Name: "app", URL: "https://example.com/hook", Secret: relay.NewSecret()}
	}
	d := base()
	if err := d.Validate(); err != nil || d.Ordering != relay.OrderingNone || d.OnDead != relay.OnDeadSkip {
		t.Fatalf("defaults: %v, ordering %q on_dead %q", err, d.Ordering, d.OnDead)
	}
	for _, ok := range []string{"resource", "account", "connection", "$.issue.id", "$.data.0"} {
		d := base()
		d.Ordering = ok
		if err := d.Validate(); err != nil {
			t.Errorf("ordering %q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"event", "$", "$.", "issue.id", "$.a..b", "$.a[0]", "$.*"} {
		d := base()
		d.Ordering = bad
		if err := d.Validate(); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("ordering %q: %v, want EINVALID", bad, err)
		}
	}
	d = base()
	d.OnDead = "retry"
	if err := d.Validate(); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("on_dead retry: %v, want EINVALID", err)
	}
}

func TestPlanEventCarriesOrderKey(t *testing.T) {
	e := &relay.Event{ID: "evt_1", Source: relay.SourceLive, ResourceID: "r1"}
	ordered := &relay.Destination{ID: "dst_o", Ordering: relay.OrderingResource}
	plain := &relay.Destination{ID: "dst_p", Ordering: relay.OrderingNone}
	it := relay.PlanEvent(e, []*relay.Destination{ordered, plain}, e.ReceivedAt)
	if it.Deliveries[0].OrderKey != "r1" || !it.Deliveries[0].Ordered() || it.Deliveries[1].Ordered() {
		t.Fatalf("deliveries %+v %+v", it.Deliveries[0], it.Deliveries[1])
	}
}
