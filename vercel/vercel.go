// Package vercel is Relay's adapter for Vercel integration webhooks: it
// verifies x-vercel-signature and extracts the delivery id, event type, team
// (or user) and project.
//
// Vercel sends no timestamp, so there is no replay window: de-duplication on
// the payload's id is the defence.
package vercel

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"sync"

	"github.com/relayhq/relay"
)

// HeaderSignature carries the hex HMAC-SHA1 of the raw body.
const HeaderSignature = "X-Vercel-Signature"

// Config configures the Vercel adapter.
type Config struct {
	// ClientSecret is the integration's client secret (or, for a webhook
	// created through the API, that webhook's secret).
	ClientSecret string
}

// Provider verifies and parses Vercel webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	macs sync.Pool // of hash.Hash: HMAC-SHA1 keyed with the secret
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Vercel adapter that verifies with cfg.ClientSecret.
func New(cfg Config) *Provider {
	key := []byte(cfg.ClientSecret)
	p := &Provider{}
	p.macs.New = func() any { return hmac.New(sha1.New, key) }
	return p
}

// Name returns "vercel".
func (p *Provider) Name() string { return "vercel" }

// Headers lists the Vercel request headers kept with a stored event.
func (p *Provider) Headers() []string { return []string{"User-Agent", "Content-Type"} }

// Verify checks x-vercel-signature (hex HMAC-SHA1 of the raw body, which is
// what Vercel signs). It returns an *relay.Error with code EUNAUTHORIZED when
// the header is missing, malformed or wrong.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	v := strings.TrimSpace(req.Header.Get(HeaderSignature))
	if v == "" {
		return relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", HeaderSignature)
	}
	var got [sha1.Size]byte
	if len(v) != 2*sha1.Size {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", HeaderSignature)
	}
	if _, err := hex.Decode(got[:], []byte(v)); err != nil {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", HeaderSignature)
	}
	mac := p.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(req.Body)
	var want [sha1.Size]byte
	mac.Sum(want[:0])
	p.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return relay.Errorf(relay.EUNAUTHORIZED, "signature mismatch")
	}
	return nil
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
