// Package linear is Relay's adapter for Linear webhooks: it verifies the
// linear-signature header and the body's webhookTimestamp, and extracts the
// delivery id, event type, organization and team.
package linear

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/relayhq/relay/internal/hexmac"

	"github.com/relayhq/relay"
)

// Header names Linear sends.
const (
	HeaderSignature = "Linear-Signature"
	// HeaderDelivery carries a per-delivery UUID. UNCONFIRMED against Linear's
	// documentation: it is used when present, and a deterministic id is derived
	// from the body when it is not.
	HeaderDelivery = "Linear-Delivery"
)

// DefaultTolerance is the allowed skew between webhookTimestamp and the time
// Relay received the request; Linear's official SDK uses the same 60 s.
const DefaultTolerance = 60 * time.Second

// Config configures the Linear adapter.
type Config struct {
	// WebhookSecret is the webhook's signing secret.
	WebhookSecret string
	// Tolerance is the allowed |ReceivedAt - webhookTimestamp|; 0 means
	// DefaultTolerance.
	Tolerance time.Duration
}

// Provider verifies and parses Linear webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	tolerance time.Duration
	sig       *hexmac.Verifier
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Linear adapter for cfg.
func New(cfg Config) *Provider {
	p := &Provider{tolerance: cfg.Tolerance, sig: hexmac.New(sha256.New, cfg.WebhookSecret, HeaderSignature, "")}
	if p.tolerance <= 0 {
		p.tolerance = DefaultTolerance
	}
	return p
}

// Name returns "linear".
func (p *Provider) Name() string { return "linear" }

// Headers lists the Linear request headers kept with a stored event.
func (p *Provider) Headers() []string {
	return []string{"Linear-Delivery", "Linear-Event", "User-Agent", "Content-Type"}
}

// Verify checks linear-signature (hex HMAC-SHA256 of the raw body, no prefix)
// and then that the body's webhookTimestamp (ms) is within the tolerance of
// req.ReceivedAt (see checkTimestamp). It returns an *relay.Error with code
// EUNAUTHORIZED for a missing, malformed or wrong signature and for a
// missing, non-numeric or stale timestamp, and EINVALID when a correctly
// signed body is not JSON.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	if err := p.sig.Verify(req.Header.Get(HeaderSignature), req.Body); err != nil {
		return err
	}

	now := req.ReceivedAt
	if now.IsZero() {
		now = time.Now()
	}
	return p.checkTimestamp(req.Body, now)
}

// payload holds the few fields Parse needs; the rest of the body is skipped.
type payload struct {
	Action           str `json:"action"`
	Type             str `json:"type"`
	OrganizationID   id  `json:"organizationId"`
	WebhookID        id  `json:"webhookId"`
	WebhookTimestamp id  `json:"webhookTimestamp"`
	CreatedAt        str `json:"createdAt"`
	Data             struct {
		ID        id  `json:"id"`
		UpdatedAt str `json:"updatedAt"`
		TeamID    id  `json:"teamId"`
		Team      struct {
			ID id `json:"id"`
		} `json:"team"`
	} `json:"data"`
}

// Parse extracts the delivery id, the event type ("<type>.<action>", e.g.
// "Issue.create"), the organization id and the team id (data.teamId, else
// data.team.id). The delivery id is the Linear-Delivery header when present,
// else derivedID of the body; BodyKey is the hex SHA-256 of the body. It
// returns an *relay.Error with code EINVALID when the body is not a JSON
// object.
//
// Why two keys. Linear-Delivery is not covered by the signature, so on its
// own it cannot tell a captured body replayed within the 60 s window under a
// new header value from a new delivery; a replay must carry the signed bytes
// unchanged, so the body's hash catches it. That hash cannot be the delivery
// id: a retry (docs/providers.md: up to 3, after 1 min, 1 h and ~6 h) must carry a
// fresh webhookTimestamp to pass the 60 s check, so its body and hash differ
// from the first attempt's, while its Linear-Delivery (or derivedID, which
// leaves webhookTimestamp out) stays the same. Nor does derivedID replace the
// header: it rests on fields chosen by inference (createdAt, data.updatedAt)
// and could join two distinct deliveries, whereas two byte-identical signed
// bodies, webhookTimestamp included, are one delivery by construction.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	var pl payload
	if err := json.Unmarshal(req.Body, &pl); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	in := relay.Inbound{
		DeliveryID: req.Header.Get(HeaderDelivery),
		EventType:  string(pl.Type),
		AccountID:  string(pl.OrganizationID),
		ResourceID: string(pl.Data.TeamID),
	}
	// Join only the parts present, so a body without a type does not yield
	// ".create".
	switch {
	case pl.Type == "":
		in.EventType = string(pl.Action)
	case pl.Action != "":
		in.EventType += "." + string(pl.Action)
	}
	if in.ResourceID == "" {
		in.ResourceID = string(pl.Data.Team.ID)
	}
	if in.DeliveryID == "" {
		in.DeliveryID = derivedID(&pl)
	}
	sum := sha256.Sum256(req.Body)
	in.BodyKey = hex.EncodeToString(sum[:])
	return in, nil
}

// derivedID is the hex SHA-256 of webhookId, type, action, data.id and the
// time of the action, joined with NUL bytes (docs/providers.md). The time is
// not webhookTimestamp, because a retry must carry a fresh
// webhookTimestamp to pass the 60 s check, so keying on it would store every
// retry again. The action's own time (the payload's createdAt, else
// data.updatedAt) is the same on every retry and differs between two
// updates of one entity; webhookTimestamp is used only when both are absent.
func derivedID(pl *payload) string {
	when := string(pl.CreatedAt)
	if when == "" {
		when = string(pl.Data.UpdatedAt)
	}
	if when == "" {
		when = string(pl.WebhookTimestamp)
	}
	h := sha256.New()
	for i, s := range []string{string(pl.WebhookID), string(pl.Type), string(pl.Action), string(pl.Data.ID), when} {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}
