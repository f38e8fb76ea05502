package generic_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/generic"
)

// svixHeader signs body with the official Standard Webhooks library and sends
// it under Svix's header names, as senders that sign through Svix do.
func svixHeader(t *testing.T, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Svix-Id": {id}, "Svix-Timestamp": {strconv.FormatInt(at.Unix(), 10)}, "Svix-Signature": {sig}}
}

// A Standard Webhooks source accepts the scheme under the svix-* header names:
// the same verification (signature, id and timestamp all checked), the
// delivery id from svix-id, and svix-id and svix-timestamp kept with the event.
func TestStandardWebhooksSvixHeaders(t *testing.T) {
	s, err := generic.NewStandardWebhooks("billing", vectorSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_1"}}`)
	tests := []struct {
		name   string
		header func() http.Header
		body   []byte
		code   string
	}{
		{"signed", func() http.Header { return svixHeader(t, vectorSecret, "msg_svix_1", now, body) }, body, ""},
		{"other secret", func() http.Header { return svixHeader(t, relay.NewSecret(), "msg_svix_1", now, body) }, body, relay.EUNAUTHORIZED},
		{"tampered body", func() http.Header { return svixHeader(t, vectorSecret, "msg_svix_1", now, body) }, []byte(`{"type":"invoice.void"}`), relay.EUNAUTHORIZED},
		{"tampered id", func() http.Header {
			h := svixHeader(t, vectorSecret, "msg_svix_1", now, body)
			h.Set("Svix-Id", "msg_svix_2")
			return h
		}, body, relay.EUNAUTHORIZED},
		{"stale", func() http.Header { return svixHeader(t, vectorSecret, "msg_svix_1", now.Add(-time.Hour), body) }, body, relay.EUNAUTHORIZED},
		{"missing signature", func() http.Header {
			h := svixHeader(t, vectorSecret, "msg_svix_1", now, body)
			h.Del("Svix-Signature")
			return h
		}, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: tt.header(), Body: tt.body, ReceivedAt: now}
			if got := relay.ErrorCode(s.Verify(req)); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
			if tt.code != "" {
				return
			}
			in, err := s.Parse(req)
			if err != nil {
				t.Fatal(err)
			}
			if in.DeliveryID != "msg_svix_1" || in.EventType != "invoice.paid" {
				t.Fatalf("parsed %+v", in)
			}
		})
	}
	for _, h := range []string{"Svix-Id", "Svix-Timestamp"} {
		if !slices.Contains(s.Headers(), h) {
			t.Errorf("Headers() %v lacks %s", s.Headers(), h)
		}
	}
}
