package linear_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

// webhookTimestamp is read as Linear's SDK reads it (LinearWebhookClient.verify
// in @linear/sdk): the top-level "webhookTimestamp" key, exactly so spelled,
// compared as a number of milliseconds with |now - ts| > 60 000 refused.
// Where the SDK skips the check (a falsy or non-numeric value) Relay refuses
// the request instead: a signed body whose time is unchecked could be
// replayed for ever.
func TestWebhookTimestampOddInputs(t *testing.T) {
	at := time.UnixMilli(1733212800000).UTC() // 2024-12-03T08:00:00Z
	ms := at.UnixMilli()
	p := linear.New(linear.Config{WebhookSecret: secret})
	tests := []struct {
		name string
		ts   string // the raw JSON of the top-level fields after "type"
		code string
	}{
		{"integer now", fmt.Sprintf(`"webhookTimestamp":%d`, ms), ""},
		{"integer 59 s old", fmt.Sprintf(`"webhookTimestamp":%d`, ms-59_000), ""},
		{"exactly 60 s old", fmt.Sprintf(`"webhookTimestamp":%d`, ms-60_000), ""},
		{"integer 61 s old", fmt.Sprintf(`"webhookTimestamp":%d`, ms-61_000), relay.EUNAUTHORIZED},
		{"fraction now", fmt.Sprintf(`"webhookTimestamp":%d.5`, ms), ""},
		{"fraction just past 60 s", fmt.Sprintf(`"webhookTimestamp":%d.5`, ms-60_001), relay.EUNAUTHORIZED},
		{"exponent", `"webhookTimestamp":1.7332128e12`, ""},
		{"numeric string", fmt.Sprintf(`"webhookTimestamp":"%d"`, ms), relay.EUNAUTHORIZED},
		{"other string", `"webhookTimestamp":"now"`, relay.EUNAUTHORIZED},
		{"null", `"webhookTimestamp":null`, relay.EUNAUTHORIZED},
		{"zero", `"webhookTimestamp":0`, relay.EUNAUTHORIZED},
		{"boolean", `"webhookTimestamp":true`, relay.EUNAUTHORIZED},
		{"object", `"webhookTimestamp":{}`, relay.EUNAUTHORIZED},
		{"out of range", `"webhookTimestamp":1e400`, relay.EUNAUTHORIZED},
		{"missing", `"other":1`, relay.EUNAUTHORIZED},
		{"other case only", fmt.Sprintf(`"WebhookTimestamp":%d`, ms), relay.EUNAUTHORIZED},
		{"stale, fresh in other case after", fmt.Sprintf(`"webhookTimestamp":%d,"WEBHOOKTIMESTAMP":%d`, ms-3_600_000, ms), relay.EUNAUTHORIZED},
		{"fresh, stale in other case after", fmt.Sprintf(`"webhookTimestamp":%d,"webhooktimestamp":%d`, ms, ms-3_600_000), ""},
		{"repeated key, last wins", fmt.Sprintf(`"webhookTimestamp":%d,"webhookTimestamp":%d`, ms-3_600_000, ms), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"action":"create","type":"Issue","organizationId":"org-1","data":{"id":"i-1"},` + tt.ts + `}`)
			req := &relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, ""), Body: body, ReceivedAt: at}
			if got := relay.ErrorCode(p.Verify(req)); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
}
