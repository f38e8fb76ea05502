package relay

import (
	"context"
	"encoding/json"
	"time"
)

// DestinationEngine is the delivery engine, as destination control needs it.
type DestinationEngine interface {
	// Refresh reloads destinations after a change.
	Refresh(ctx context.Context) error
	// Wake makes due deliveries go out now.
	Wake()
}

// destinationResumer is the optional part of a DestinationEngine that ends
// a circuit-breaker pause in memory (the delivery engine has it). Without
// it the pause ends in the store only, which claims already honour.
type destinationResumer interface {
	Resume(destinationID string)
}

// TestEventType is the event type of a destination test.
const TestEventType = "relay.test"

// testWaitExtra is how much longer than the destination's timeout a test
// waits for the attempt: the claim and the recording of the outcome.
const testWaitExtra = 10 * time.Second

// testPollInterval is how often a test looks whether its attempt is done.
const testPollInterval = 20 * time.Millisecond

// DestinationControl resumes, tests and rotates the secret of destinations:
// the operations behind the API's destination verbs and the dashboard's
// buttons, so that both behave the same.
type DestinationControl struct {
	// Store holds the destinations, events and deliveries.
	Store Store
	// Engine is told of changes: a resume, a rotated secret, a test event.
	Engine DestinationEngine
	// Overlap is how long a replaced secret keeps signing when the caller
	// names no overlap (delivery.rotation_overlap).
	Overlap time.Duration
	// Now is the clock.
	Now func() time.Time
	// RefreshFailed is told when reloading the engine's destinations after
	// a rotation failed (the rotation itself stands); may be nil.
	RefreshFailed func(err error)
}

// Resume ends the destination's circuit-breaker pause now and makes its
// retrying deliveries due; it returns how many it made due. Errors are the
// store's (ENOTFOUND for an unknown destination).
func (c *DestinationControl) Resume(ctx context.Context, id string) (int, error) {
	n, err := c.Store.ResumeDestination(ctx, id, c.Now())
	if err != nil {
		return 0, err
	}
	if rs, ok := c.Engine.(destinationResumer); ok {
		rs.Resume(id)
	} else {
		c.Engine.Wake()
	}
	return n, nil
}

// RotateSecret gives the destination a new signing secret (secret, or a
// generated one when empty) and keeps the replaced one signing for overlap
// (nil means c.Overlap). It returns the destination with the new secret in
// Secret, to be shown once. Errors: EINVALID for a bad secret or overlap,
// ENOTFOUND for an unknown destination, or the store's.
func (c *DestinationControl) RotateSecret(ctx context.Context, id, secret string, overlap *time.Duration) (*Destination, error) {
	o := c.Overlap
	if overlap != nil {
		o = *overlap
	}
	if err := ValidateRotationOverlap(o); err != nil {
		return nil, err
	}
	if secret == "" {
		secret = NewSecret()
	} else if err := ValidateSecret(secret); err != nil {
		return nil, Errorf(EINVALID, "secret: %s", ErrorMessage(err))
	}
	if err := c.Store.RotateDestinationSecret(ctx, id, secret, c.Now().Add(o)); err != nil {
		return nil, err
	}
	if err := c.Engine.Refresh(ctx); err != nil && c.RefreshFailed != nil {
		c.RefreshFailed(err)
	}
	d, err := c.Store.GetDestination(ctx, id)
	if err != nil {
		return nil, err
	}
	d.Secret = secret
	return d, nil
}

// DestinationTest is the outcome of a destination test: the relay.test
// event sent, and its delivery with the attempt log (Attempts 0 when no
// attempt finished within the wait).
type DestinationTest struct {
	EventID  string
	Delivery *Delivery
}

// Test sends a signed relay.test event to the destination through the
// normal pipeline (stored, claimed, signed, retried like any event) and
// waits until its first attempt is recorded or the destination's timeout
// (plus the time to claim and record) runs out; done says which. Errors:
// ENOTFOUND for an unknown destination, ECONFLICT for a disabled one, the
// store's, or ctx's error when ctx ended before the wait did.
func (c *DestinationControl) Test(ctx context.Context, id string) (res DestinationTest, done bool, err error) {
	d, err := c.Store.GetDestination(ctx, id)
	if err != nil {
		return res, false, err
	}
	if d.Disabled {
		return res, false, Errorf(ECONFLICT, "destination %s is disabled: enable it to test it", d.ID)
	}
	now := c.Now()
	// Shaped like Relay's operational events (package ops): provider
	// "relay", event type "relay.…", payload {type, created_at, data}.
	ev := &Event{ID: NewID("evt", now), Provider: "relay", DeliveryID: NewID("test", now),
		EventType: TestEventType, Source: SourceLive, ReceivedAt: EventTime(now)}
	ev.Payload, _ = json.Marshal(map[string]any{"type": TestEventType, "created_at": now.UTC(),
		"data": map[string]string{"destination_id": d.ID, "destination_name": d.Name,
			"message": "A test event sent by Relay; it needs no action."}})
	item := PlanEvent(ev, []*Destination{d}, now)
	if err := c.Store.InsertEvents(ctx, []*IngestItem{item}); err != nil {
		return res, false, err
	}
	c.Engine.Wake()
	res = DestinationTest{EventID: ev.ID, Delivery: item.Deliveries[0]}
	wait, cancel := context.WithTimeout(ctx, time.Duration(d.Timeout)+testWaitExtra)
	defer cancel()
	tick := time.NewTicker(testPollInterval)
	defer tick.Stop()
	for {
		got, err := c.Store.GetDelivery(wait, res.Delivery.ID, "")
		switch {
		case err == nil && got.Attempts > 0:
			res.Delivery = got
			return res, true, nil
		case err == nil:
			res.Delivery = got
		case wait.Err() == nil:
			return res, false, err
		}
		select {
		case <-wait.Done():
			return res, false, ctx.Err()
		case <-tick.C:
		}
	}
}
