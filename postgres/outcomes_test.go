package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// TestOutcomesOfOneDeliveryInOneBatch records two attempts of the same
// delivery in one batch (the first's lease owner, then nobody's) and checks
// that the result is what recording them one by one gives: both attempts
// counted and numbered, the state from each in turn.
func TestOutcomesOfOneDeliveryInOneBatch(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:1/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 2 {
		e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: fmt.Sprintf("d-%d", i), EventType: "push",
			Source: relay.SourceLive, Payload: []byte(`{}`), ReceivedAt: now}
		dl := &relay.Delivery{ID: relay.NewID("dlv", now), DestinationID: d.ID, Status: relay.DeliveryPending,
			Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		it := &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{dl}, LeaseOwner: "me", LeaseUntil: now.Add(time.Minute)}
		if err := s.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, dl.ID)
	}
	outcomes := func(id string) []*relay.Outcome {
		return []*relay.Outcome{
			{Owner: "me", Status: relay.DeliveryRetrying, Step: 1, NextAttemptAt: now.Add(time.Hour),
				Attempt: relay.Attempt{DeliveryID: id, StartedAt: now, StatusCode: 500, Error: "boom"}},
			{Status: relay.DeliverySucceeded, Step: 2,
				Attempt: relay.Attempt{DeliveryID: id, StartedAt: now.Add(time.Second), StatusCode: 204, ResponseBody: "ok"}},
		}
	}
	if err := s.RecordOutcomes(ctx, outcomes(ids[0]), now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes(ids[1]) {
		if err := s.RecordOutcomes(ctx, []*relay.Outcome{o}, now.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	batched, err := s.GetDelivery(ctx, ids[0], "")
	if err != nil {
		t.Fatal(err)
	}
	oneByOne, err := s.GetDelivery(ctx, ids[1], "")
	if err != nil {
		t.Fatal(err)
	}
	if batched.Status != relay.DeliverySucceeded || batched.Attempts != 2 || len(batched.AttemptLog) != 2 ||
		batched.AttemptLog[0].N != 1 || batched.AttemptLog[1].N != 2 || batched.AttemptLog[1].StatusCode != 204 {
		t.Fatalf("batched: %+v, attempts %+v", batched, batched.AttemptLog)
	}
	// Everything but the ids agrees.
	batched.ID, batched.EventID, oneByOne.ID, oneByOne.EventID = "", "", "", ""
	for _, a := range append(batched.AttemptLog, oneByOne.AttemptLog...) {
		a.DeliveryID = ""
	}
	if !reflect.DeepEqual(batched, oneByOne) {
		t.Fatalf("batched %+v\none by one %+v", batched, oneByOne)
	}
}
