package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

var codecT0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func openCodecStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// codecDestination creates a destination that orders by a payload field, so
// a delivery's order key shows which payload the store read back.
func codecDestination(t *testing.T, s *Store) *relay.Destination {
	t.Helper()
	d := &relay.Destination{ID: relay.NewID("dst", codecT0), Name: "app", URL: "http://127.0.0.1:9/app", Secret: relay.NewSecret(),
		Providers: []string{"github"}, EventTypes: []string{"*"}, Ordering: "$.key", CreatedAt: codecT0, UpdatedAt: codecT0}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDestination(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func codecItem(deliveryID string, payload []byte, headers map[string]string, d *relay.Destination) *relay.IngestItem {
	e := &relay.Event{ID: relay.NewID("evt", codecT0), Provider: "github", DeliveryID: deliveryID, EventType: "issues.opened",
		Source: relay.SourceLive, Headers: headers, Payload: payload, ReceivedAt: codecT0}
	return &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{{ID: relay.NewID("dlv", codecT0), EventID: e.ID,
		DestinationID: d.ID, Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: codecT0,
		CreatedAt: codecT0, UpdatedAt: codecT0}}}
}

// checkEvent reads the event back every way the store returns payloads
// (get, list, claim) and compares headers and payload byte for byte.
func checkEvent(t *testing.T, s *Store, id string, payload []byte, headers map[string]string) {
	t.Helper()
	ctx := context.Background()
	same := func(how string, e *relay.Event) {
		t.Helper()
		t.Helper()
		if string(e.Payload) != string(payload) || e.Payload == nil {
			t.Fatalf("%s: payload %d bytes %.60q, want the exact %d bytes %.60q", how, len(e.Payload), e.Payload, len(payload), payload)
		}
		// Claims leave the headers out: deliveries do not send them.
		if how != "claim" && fmt.Sprint(e.Headers) != fmt.Sprint(headers) {
			t.Fatalf("%s: headers %v, want %v", how, e.Headers, headers)
		}
	}
	got, err := s.GetEvent(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	same("get", got)
	page, err := s.ListEvents(ctx, relay.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.Items {
		if e.ID == id {
			same("list", e)
			found = true
		}
	}
	if !found {
		t.Fatalf("event %s not listed", id)
	}
	claims, err := s.ClaimDue(ctx, "me", codecT0.Add(time.Second), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, c := range claims {
		if c.Event.ID == id {
			same("claim", c.Event)
			found = true
		}
	}
	if !found {
		t.Fatalf("event %s's delivery not claimed", id)
	}
}

// Payloads of every size come back exactly as received, and are stored
// compressed (a large repetitive body takes a fraction of its size);
// headers are kept as JSON text.
func TestCodecRoundTrip(t *testing.T) {
	ctx := context.Background()
	large, _ := json.Marshal(map[string]any{"key": "k-large", "body": strings.Repeat("GitHub webhook payload ", 5000)})
	headers := map[string]string{"X-Github-Event": "issues", "Content-Type": "application/json"}
	for _, tc := range []struct {
		name    string
		payload []byte
		headers map[string]string
	}{
		{"large", large, headers},
		{"tiny", []byte(`{}`), headers},
		{"empty", []byte{}, nil},
		{"binary", []byte("\x00\xff\x28\xb5\x2f\xfd not json"), map[string]string{"X": "é\u0000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openCodecStore(t)
			it := codecItem("d-"+tc.name, tc.payload, tc.headers, codecDestination(t, s))
			if err := s.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
				t.Fatal(err)
			}
			checkEvent(t, s, it.Event.ID, tc.payload, tc.headers)
			var codec, stored int
			var storedHeaders string
			if err := s.reader.QueryRowContext(ctx, `SELECT payload_codec, length(payload), headers FROM events WHERE id = ?`,
				it.Event.ID).Scan(&codec, &stored, &storedHeaders); err != nil {
				t.Fatal(err)
			}
			if codec != codecS2 {
				t.Fatalf("payload codec %d, want %d", codec, codecS2)
			}
			if want, _ := marshalHeaders(tc.headers); storedHeaders != want {
				t.Fatalf("headers stored as %q, want the JSON text %q", storedHeaders, want)
			}
			if tc.name == "large" && stored > len(tc.payload)/20 {
				t.Fatalf("a %d-byte repetitive payload is stored in %d bytes: not compressed", len(tc.payload), stored)
			}
		})
	}
}

// A row written before compression (payload_codec 0: the payload as
// received) reads back unchanged by every path, held-event release
// included.
func TestCodecReadsUncompressedRows(t *testing.T) {
	ctx := context.Background()
	s := openCodecStore(t)
	d := codecDestination(t, s)
	payload := []byte(`{"key":"k-old","action":"opened"}`)
	headers := map[string]string{"X-Github-Event": "issues"}
	insertRaw := func(id, deliveryID, match string) {
		t.Helper()
		if _, err := s.writer.ExecContext(ctx, `INSERT INTO events (id, provider, delivery_id, event_type, source, account_id, match, headers, payload, received_at)
			VALUES (?, 'github', ?, 'issues.opened', 'live', 'acct-1', ?, '{"X-Github-Event":"issues"}', ?, ?)`,
			id, deliveryID, match, payload, ms(codecT0)); err != nil {
			t.Fatal(err)
		}
	}
	old := relay.NewID("evt", codecT0)
	insertRaw(old, "old-1", "")
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, destination_id, status, source, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', 'live', ?, ?, ?)`, relay.NewID("dlv", codecT0), old, d.ID, ms(codecT0), ms(codecT0), ms(codecT0)); err != nil {
		t.Fatal(err)
	}
	var codec int
	if err := s.reader.QueryRowContext(ctx, `SELECT payload_codec FROM events WHERE id = ?`, old).Scan(&codec); err != nil || codec != codecRaw {
		t.Fatalf("a row written without a codec has codec %d (%v), want %d", codec, err, codecRaw)
	}
	checkEvent(t, s, old, payload, headers)

	// A held event is released by its payload's order key.
	held := relay.NewID("evt", codecT0)
	insertRaw(held, "old-held", relay.MatchUnmatched)
	n, err := s.ReleaseHeld(ctx, relay.HeldRelease{Provider: "github", AccountID: "acct-1", OrgID: "org-1", ConnectionID: "con-1",
		Destinations: []*relay.Destination{d}, Now: codecT0})
	if err != nil || n != 1 {
		t.Fatalf("released %d (%v), want 1", n, err)
	}
	got, err := s.GetEvent(ctx, held, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Deliveries) != 1 || got.Deliveries[0].OrderKey != "k-old" {
		t.Fatalf("released deliveries %+v, want one keyed k-old from the payload", got.Deliveries)
	}
}

// A compressed held event is released by its payload too.
func TestCodecReleaseHeld(t *testing.T) {
	ctx := context.Background()
	s := openCodecStore(t)
	d := codecDestination(t, s)
	it := codecItem("held-1", []byte(`{"key":"k-new"}`), nil, d)
	it.Event.AccountID, it.Event.Match, it.Deliveries = "acct-1", relay.MatchUnmatched, nil
	if err := s.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseHeld(ctx, relay.HeldRelease{Provider: "github", AccountID: "acct-1", OrgID: "org-1", ConnectionID: "con-1",
		Destinations: []*relay.Destination{d}, Now: codecT0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvent(ctx, it.Event.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Deliveries) != 1 || got.Deliveries[0].OrderKey != "k-new" {
		t.Fatalf("released deliveries %+v, want one keyed k-new from the payload", got.Deliveries)
	}
}

// A stored payload that does not decode, or names a codec this version does
// not know, is an error that says so, from every read path; nothing panics
// and no garbage is returned.
func TestCodecCorruptValue(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, set, want string
	}{
		// An S2 block header followed by garbage.
		{"payload", `payload = x'28b52ffd2400ffffffffffff'`, "payload: stored value is corrupt"},
		{"truncated", `payload = substr(payload, 1, length(payload) / 2)`, "payload: stored value is corrupt"},
		// One byte changed inside the frame: it may still decode, but not
		// to the bytes its checksum was taken of.
		{"byte", `payload = substr(payload, 1, 20) || CASE WHEN substr(payload, 21, 1) = x'00' THEN x'01' ELSE x'00' END
			|| substr(payload, 22)`, "payload: stored value is corrupt"},
		{"codec", `payload_codec = 7`, "unknown codec 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openCodecStore(t)
			d := codecDestination(t, s)
			it := codecItem("c-"+tc.name, []byte(`{"key":"k","action":"opened","padding":"`+strings.Repeat("ab", 200)+`"}`),
				map[string]string{"X-Github-Event": "issues"}, d)
			it.Event.AccountID = "acct-1"
			if err := s.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.writer.ExecContext(ctx, `UPDATE events SET `+tc.set+` WHERE id = ?`, it.Event.ID); err != nil {
				t.Fatal(err)
			}
			check := func(how string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), it.Event.ID) {
					t.Fatalf("%s: error %v, want one naming %s and saying %q", how, err, it.Event.ID, tc.want)
				}
			}
			_, err := s.GetEvent(ctx, it.Event.ID, "")
			check("get", err)
			_, err = s.ListEvents(ctx, relay.EventFilter{})
			check("list", err)
			_, err = s.ClaimDue(ctx, "me", codecT0.Add(time.Second), time.Minute, 10)
			check("claim", err)
			_, err = s.ReplayEvent(ctx, it.Event.ID, "", nil, codecT0)
			check("replay", err)
			if _, err := s.writer.ExecContext(ctx, `UPDATE events SET match = 'unmatched' WHERE id = ?`, it.Event.ID); err != nil {
				t.Fatal(err)
			}
			_, err = s.ReleaseHeld(ctx, relay.HeldRelease{Provider: "github", AccountID: "acct-1", OrgID: "org-1",
				ConnectionID: "con-1", Destinations: []*relay.Destination{d}, Now: codecT0})
			check("release held", err)
		})
	}
}
