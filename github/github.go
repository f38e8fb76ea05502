// Package github is Relay's adapter for GitHub webhooks (GitHub Apps and
// repository or organization hooks): it verifies X-Hub-Signature-256 and
// extracts the delivery id, event type, installation and repository.
//
// GitHub sends no timestamp, so there is no replay window: de-duplication on
// the X-GitHub-Delivery GUID (unchanged on redelivery) is the defence.
package github

import (
	"crypto/sha256"
	"mime"
	"net/url"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/hexmac"
	"github.com/relayhq/relay/internal/jsonfield"
)

// Header names GitHub sends.
const (
	HeaderSignature256 = "X-Hub-Signature-256"
	HeaderEvent        = "X-GitHub-Event"
	HeaderDelivery     = "X-GitHub-Delivery"
)

const signaturePrefix = "sha256="

// Config configures the GitHub adapter.
type Config struct {
	// WebhookSecret is the App's (or hook's) webhook secret.
	WebhookSecret string
}

// Provider verifies and parses GitHub webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	sig *hexmac.Verifier
}

var _ relay.Provider = (*Provider)(nil)

// New returns a GitHub adapter that verifies with cfg.WebhookSecret.
func New(cfg Config) *Provider {
	return &Provider{sig: hexmac.New(sha256.New, cfg.WebhookSecret, HeaderSignature256, signaturePrefix)}
}

// Name returns "github".
func (p *Provider) Name() string { return "github" }

// Headers lists the GitHub request headers kept with a stored event.
func (p *Provider) Headers() []string {
	return []string{
		"X-Github-Event", "X-Github-Delivery", "X-Github-Hook-Id",
		"X-Github-Hook-Installation-Target-Type", "X-Github-Hook-Installation-Target-Id",
		"User-Agent", "Content-Type",
	}
}

// Verify checks X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the raw
// body). The legacy SHA-1 X-Hub-Signature is not accepted. It returns an
// *relay.Error with code EUNAUTHORIZED when the header is missing, malformed
// or wrong.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	return p.sig.Verify(req.Header.Get(HeaderSignature256), req.Body)
}

// payloadPaths are the few fields Parse reads; the rest of the body is
// not decoded.
var payloadPaths = []string{"action", "installation.id", "repository.id", "organization.id"}

// Parse extracts the delivery id (X-GitHub-Delivery), the event type
// (X-GitHub-Event, plus "." and the payload's action when it has one), the
// installation id and the repository id (else the organization id).
//
// A hook configured with content type application/x-www-form-urlencoded
// sends the JSON as the form field payload; Verify checked the signature
// over the form body, and Parse reads the JSON from the field and returns
// it as Inbound.Payload, to be stored and delivered instead of the form.
//
// It returns an *relay.Error with code EINVALID when a header is missing,
// the form has no payload field, or the JSON is not a JSON object.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	delivery := req.Header.Get(HeaderDelivery)
	if delivery == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "missing %s header", HeaderDelivery)
	}
	event := req.Header.Get(HeaderEvent)
	if event == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "missing %s header", HeaderEvent)
	}
	body, form, err := jsonBody(req)
	if err != nil {
		return relay.Inbound{}, err
	}
	if !jsonfield.Object(body) {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not a JSON object")
	}
	f := jsonfield.Get(body, payloadPaths...)
	in := relay.Inbound{
		DeliveryID: delivery,
		EventType:  event,
		AccountID:  f.ID(1),
		ResourceID: f.ID(2),
	}
	if form {
		in.Payload = string(body)
	}
	if action := f.String(0); action != "" {
		in.EventType = event + "." + action
	}
	if in.ResourceID == "" {
		in.ResourceID = f.ID(3)
	}
	return in, nil
}

// jsonBody returns the delivery's JSON: the body itself, or, for a
// form-encoded delivery (form true), its payload field.
func jsonBody(req *relay.WebhookRequest) (body []byte, form bool, err error) {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return req.Body, false, nil
	}
	v, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, true, relay.Errorf(relay.EINVALID, "body is not a valid form")
	}
	js := v.Get("payload")
	if js == "" {
		return nil, true, relay.Errorf(relay.EINVALID, "form body has no payload field")
	}
	return []byte(js), true, nil
}
