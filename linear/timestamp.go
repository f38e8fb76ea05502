package linear

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/relayhq/relay"
)

// checkTimestamp checks the body's webhookTimestamp against now the way
// Linear's own SDK does, so that Relay accepts what a Linear integration
// built on the SDK accepts. @linear/sdk, packages/sdk/src/webhooks/client.ts
// (LinearWebhookClient.verify and parseVerifiedPayload, read in the linear/linear
// repository): the body is JSON.parse'd, its top-level webhookTimestamp
// property (exact spelling; the last one when repeated) is passed to verify,
// which does
//
//	if (timestamp) {
//	  const timeDiff = Math.abs(new Date().getTime() - timestamp);
//	  if (timeDiff > 1000 * 60) throw new Error("Invalid webhook timestamp");
//	}
//
// So the value is a JavaScript number of milliseconds, fractions allowed,
// compared with integer-millisecond now, and a difference of exactly the
// tolerance passes. Relay does the same with its configured tolerance
// (default 60 s) and departs from the SDK in one direction only: where the
// SDK skips the check (a missing, null, zero or other falsy value) or would
// coerce a non-number (a string, a boolean, an object; a non-numeric string
// even yields NaN, which passes), Relay refuses the request, since a signed
// body whose time is not checked could be replayed at any time. Linear sends
// a number (the SDK's payload types declare webhookTimestamp: number).
//
// It returns an *relay.Error with code EUNAUTHORIZED for a missing,
// non-numeric or stale timestamp, and EINVALID when the body is not a JSON
// object.
func (p *Provider) checkTimestamp(body []byte, now time.Time) error {
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and a body carrying both webhookTimestamp and
	// WebhookTimestamp must be read as the SDK reads it.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	raw := top["webhookTimestamp"]
	if len(raw) == 0 || string(raw) == "null" {
		return relay.Errorf(relay.EUNAUTHORIZED, "missing webhookTimestamp")
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed webhookTimestamp: not a number")
	}
	// raw is a JSON number (Unmarshal checked the grammar), which ParseFloat
	// reads; only a value beyond float64's range fails.
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed webhookTimestamp")
	}
	if math.Abs(float64(now.UnixMilli())-ms) > float64(p.tolerance.Milliseconds()) {
		return relay.Errorf(relay.EUNAUTHORIZED, "stale timestamp")
	}
	return nil
}
