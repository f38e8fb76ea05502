package delivery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

func TestEnvelopeIsJSON(t *testing.T) {
	e := &relay.Event{ID: "evt_1", Provider: "github", DeliveryID: "d\"1\\\n\u2028<>&\x01\xff", EventType: "issues.opened",
		OrgID: "org \"a\"", ResourceID: "", Payload: json.RawMessage(`{"a":[1,2,{"b":null}]}`),
		ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	var got map[string]any
	if err := json.Unmarshal(Envelope(e, relay.SourceReplay), &got); err != nil {
		t.Fatalf("envelope is not JSON: %v\n%s", err, Envelope(e, relay.SourceReplay))
	}
	want := map[string]any{"id": "evt_1", "type": "github.issues.opened", "provider": "github",
		"delivery_id": "d\"1\\\n\u2028<>&\x01\ufffd", "event_type": "issues.opened", "source": "replay",
		"org_id": "org \"a\"", "connection_id": nil, "resource_id": nil, "received_at": "2026-01-02T03:04:05Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if p, _ := json.Marshal(got["payload"]); string(p) != `{"a":[1,2,{"b":null}]}` {
		t.Errorf("payload %s", p)
	}
}

// An event held in memory with more than milliseconds sends the bytes a
// retry sends from the stored (millisecond) event.
func TestEnvelopeReceivedAtMilliseconds(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	e := &relay.Event{ID: "evt_1", Provider: "github", DeliveryID: "d1", EventType: "push", Payload: json.RawMessage(`{}`), ReceivedAt: at}
	stored := *e
	stored.ReceivedAt = time.UnixMilli(at.UnixMilli()).UTC()
	if a, b := Envelope(e, relay.SourceLive), Envelope(&stored, relay.SourceLive); string(a) != string(b) {
		t.Fatalf("in memory\n%s\nstored\n%s", a, b)
	}
	var got map[string]any
	if err := json.Unmarshal(Envelope(e, relay.SourceLive), &got); err != nil || got["received_at"] != "2026-01-02T02:04:05.123Z" {
		t.Fatalf("received_at %v (%v)", got["received_at"], err)
	}
}

// BenchmarkEnvelopeSign builds and signs one envelope for a 2 KB GitHub
// payload: the per-attempt CPU of the delivery path before the HTTP request.
func BenchmarkEnvelopeSign(b *testing.B) {
	s, err := newSigner(&relay.Destination{Secret: relay.NewSecret()})
	if err != nil {
		b.Fatal(err)
	}
	e := &relay.Event{ID: relay.NewID("evt", time.Now()), Provider: "github", DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		EventType: "issues.opened", ResourceID: "1296269", Payload: simulator.GitHubIssuesPayload(1, 2, "opened"), ReceivedAt: time.Now()}
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Payload)))
	for b.Loop() {
		body := Envelope(e, relay.SourceLive)
		if _, err := s.wh.Sign(e.ID, now, body); err != nil {
			b.Fatal(err)
		}
	}
}
