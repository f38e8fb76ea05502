// Package vercel is Relay's adapter for Vercel integration webhooks: it
// verifies x-vercel-signature and extracts the delivery id, event type, team
// (or user) and project.
//
// Vercel sends no timestamp, so there is no replay window: de-duplication on
// the payload's id is the defence.
package vercel

import (
	"crypto/sha1"
	"encoding/json"

	"github.com/relayhq/relay/internal/hexmac"

	"github.com/relayhq/relay"
)

// HeaderSignature carries the hex HMAC-SHA1 of the raw body.
const HeaderSignature = "X-Vercel-Signature"

// Config configures the Vercel adapter.
type Config struct {
	// ClientSecret is the integration's client secret. Webhooks created
	// through the API are signed with their own secrets, which
	// VerifyConnection looks up per account.
	ClientSecret string
}

// Provider verifies and parses Vercel webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	sig *hexmac.Verifier
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Vercel adapter that verifies with cfg.ClientSecret.
func New(cfg Config) *Provider {
	return &Provider{sig: hexmac.New(sha1.New, cfg.ClientSecret, HeaderSignature, "")}
}

// Name returns "vercel".
func (p *Provider) Name() string { return "vercel" }

// Headers lists the Vercel request headers kept with a stored event.
func (p *Provider) Headers() []string { return []string{"User-Agent", "Content-Type"} }

// Verify checks x-vercel-signature (hex HMAC-SHA1 of the raw body, which is
// what Vercel signs). It returns an *relay.Error with code EUNAUTHORIZED when
// the header is missing, malformed or wrong.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	return p.sig.Verify(req.Header.Get(HeaderSignature), req.Body)
}

// ref is an object of which only the id is read; null decodes to "".
type ref struct {
	ID id `json:"id"`
}

// payload holds the few fields Parse needs; the rest of the body is skipped.
type payload struct {
	ID      id  `json:"id"`
	Type    str `json:"type"`
	Payload struct {
		Team    ref `json:"team"`
		User    ref `json:"user"`
		Project ref `json:"project"`
	} `json:"payload"`
}

// Parse extracts the delivery id (the payload's id), the event type (its
// type, e.g. "deployment.created"), the account (payload.team.id, or
// payload.user.id when the team is null, i.e. a personal account) and the
// project id. It returns an *relay.Error with code EINVALID when the body is
// not a JSON object or has no id.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	var pl payload
	if err := json.Unmarshal(req.Body, &pl); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	if pl.ID == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body has no id")
	}
	in := relay.Inbound{
		DeliveryID: string(pl.ID),
		EventType:  string(pl.Type),
		AccountID:  string(pl.Payload.Team.ID),
		ResourceID: string(pl.Payload.Project.ID),
	}
	if in.AccountID == "" {
		in.AccountID = string(pl.Payload.User.ID)
	}
	return in, nil
}
