package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/simulator"
)

// The API through the real server: destinations CRUD, filters, replay of an
// event, a delivery and every dead delivery of a destination.
func TestAPIEndToEnd(t *testing.T) {
	ctx := context.Background()
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), nil)
	c := relayhttp.NewClient(p.url, testAdminKey)

	// Validation errors come back as *relay.Error with the right code.
	_, err := c.CreateDestination(ctx, &relay.Destination{Name: "bad", URL: "ftp://x"})
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("bad url: %v", err)
	}
	_, err = c.CreateDestination(ctx, &relay.Destination{Name: "app", URL: sink.URL})
	if relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := c.GetDestination(ctx, "dst_nope"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("missing destination: %v", err)
	}

	// A second destination, only for pushes; its secret is shown on create only.
	other := newCollector(t)
	created, err := c.CreateDestination(ctx, &relay.Destination{Name: "pushes", URL: other.URL, EventTypes: []string{"push"}})
	if err != nil {
		t.Fatal(err)
	}
	if relay.ValidateSecret(created.Secret) != nil {
		t.Fatalf("created destination has no usable secret: %q", created.Secret)
	}
	list, err := c.ListDestinations(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, d := range list {
		if d.Secret != "" {
			t.Fatalf("list shows a secret for %s", d.Name)
		}
	}

	// An issues event goes only to "app" (the glob filter keeps it from "pushes").
	gh := simulator.GitHubIssuesPayload(4242, 77, "opened")
	if code, body := post(t, p.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "api-1", gh), gh); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	waitUntil(t, "delivery to app", func() bool { return len(sink.all()) == 1 })
	page, err := c.ListEvents(ctx, relay.EventFilter{EventType: "issues.*"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("events issues.*: %v %v", page, err)
	}
	if page, _ := c.ListEvents(ctx, relay.EventFilter{EventType: "push"}); len(page.Items) != 0 {
		t.Fatalf("events push: %d", len(page.Items))
	}
	ev, err := c.GetEvent(ctx, page.Items[0].ID)
	if err != nil || len(ev.Deliveries) != 1 {
		t.Fatalf("event: %+v %v", ev, err)
	}
	waitUntil(t, "attempt recorded", func() bool {
		d, err := c.GetDelivery(ctx, ev.Deliveries[0].ID)
		return err == nil && d.Status == relay.DeliverySucceeded && len(d.AttemptLog) == 1
	})

	// Replay the event: same webhook-id, source replay.
	if _, err := c.ReplayEvent(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "replayed delivery", func() bool { return len(sink.all()) == 2 })
	got := sink.all()
	if got[1].header.Get("webhook-id") != got[0].header.Get("webhook-id") || got[1].env["source"] != "replay" {
		t.Fatalf("replay: webhook-id %q vs %q, source %v", got[1].header.Get("webhook-id"), got[0].header.Get("webhook-id"), got[1].env["source"])
	}

	// The app goes away for good: 410 disables the destination and kills the delivery.
	sink.mu.Lock()
	sink.code = http.StatusGone
	sink.mu.Unlock()
	if _, err := c.ReplayDelivery(ctx, ev.Deliveries[0].ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "dead after 410", func() bool {
		d, err := c.GetDelivery(ctx, ev.Deliveries[0].ID)
		return err == nil && d.Status == relay.DeliveryDead
	})
	var app *relay.Destination
	waitUntil(t, "destination disabled", func() bool {
		app, _ = c.GetDestination(ctx, ev.Deliveries[0].DestinationID)
		return app != nil && app.Disabled
	})
	dead, err := c.ListDeliveries(ctx, relay.DeliveryFilter{Status: relay.DeliveryDead})
	if err != nil || len(dead.Items) != 1 {
		t.Fatalf("dead deliveries: %v %v", dead, err)
	}

	// It comes back: enable it, replay every dead delivery.
	sink.mu.Lock()
	sink.code = http.StatusOK
	sink.mu.Unlock()
	if _, err := c.UpdateDestination(ctx, app.ID, map[string]any{"disabled": false}); err != nil {
		t.Fatal(err)
	}
	n, err := c.ReplayDead(ctx, app.ID, time.Time{}, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("replay dead: %d %v", n, err)
	}
	waitUntil(t, "delivered after replay-dead", func() bool {
		d, err := c.GetDelivery(ctx, ev.Deliveries[0].ID)
		return err == nil && d.Status == relay.DeliverySucceeded
	})

	// Deleting a destination removes it from routing.
	if err := c.DeleteDestination(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDestination(ctx, created.ID); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("deleted destination: %v", err)
	}
	if len(other.all()) != 0 {
		t.Fatalf("the push-only destination received %d issues events", len(other.all()))
	}
}

// The OpenAPI document is served without a key, as embedded in the binary.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	p := startRelay(t, e2eConfig(newCollector(t).URL), nil)
	resp, err := http.Get(p.url + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(body, relay.OpenAPI) {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}
