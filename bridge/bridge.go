// Package bridge is Relay's adapter for Bridge (bridge.xyz): it verifies the
// RSA-signed X-Webhook-Signature of Bridge's webhooks, extracts the event
// id, type, customer and object, and (client.go) calls Bridge's customers
// API through the shared provider HTTP client.
//
// Bridge signs "<t>.<raw body>" with the webhook endpoint's private key; the
// endpoint's PEM public key verifies it. Bridge's docs say to take the
// SHA-256 digest of the data and verify the signature over that digest with
// an RSA-SHA256 verifier, which hashes once more: what is checked is
// SHA-256(SHA-256(data)) under PKCS#1 v1.5 with the SHA-256 DigestInfo.
// Bridge's published test data verifies this way and not with a single hash
// (see TestPublishedVector).
package bridge

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsonfield"
)

// HeaderSignature is the header Bridge signs its webhooks in:
// "t=<unix ms>,v0=<base64 signature>".
const HeaderSignature = "X-Webhook-Signature"

// DefaultTolerance is how far the signature's timestamp may be from the time
// Relay received the webhook: Bridge recommends rejecting events older than
// 10 minutes.
const DefaultTolerance = 10 * time.Minute

// Config configures the Bridge adapter.
type Config struct {
	// PublicKeys are the PEM public keys of the webhook endpoint ("PUBLIC
	// KEY" PKIX or "RSA PUBLIC KEY" PKCS#1). A signature made with any of
	// them is accepted, so a key rotation can list the old and the new key.
	// A string may hold several PEM blocks, and may spell its line breaks as
	// the two characters `\n`, as Bridge's dashboard and docs show them.
	PublicKeys []string
	// Tolerance is the allowed |received - t|; 0 means DefaultTolerance, a
	// negative value disables the timestamp check.
	Tolerance time.Duration
	// SkipTimestamp disables the timestamp check (for replaying captured
	// webhooks and published test vectors). Never set it in production: the
	// check is the only replay defence besides de-duplication on event_id.
	SkipTimestamp bool
	// Now is the clock used when a request carries no ReceivedAt; default
	// time.Now.
	Now func() time.Time
}

// Provider verifies and parses Bridge webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	keys      []*rsa.PublicKey
	tolerance time.Duration // ≤ 0: no timestamp check
	now       func() time.Time
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Bridge adapter for cfg. It returns an error when cfg has no
// public key, or one that is not a PEM-encoded RSA public key.
func New(cfg Config) (*Provider, error) {
	p := &Provider{tolerance: cfg.Tolerance, now: cfg.Now}
	if p.tolerance == 0 {
		p.tolerance = DefaultTolerance
	}
	if cfg.SkipTimestamp {
		p.tolerance = -1
	}
	if p.now == nil {
		p.now = time.Now
	}
	for i, s := range cfg.PublicKeys {
		keys, err := parsePublicKeys(s)
		if err != nil {
			return nil, fmt.Errorf("bridge: public key %d: %w", i+1, err)
		}
		p.keys = append(p.keys, keys...)
	}
	if len(p.keys) == 0 {
		return nil, errors.New("bridge: at least one webhook public key is required")
	}
	return p, nil
}

// parsePublicKeys reads every PEM block of s.
func parsePublicKeys(s string) ([]*rsa.PublicKey, error) {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	rest := []byte(strings.TrimSpace(s))
	var keys []*rsa.PublicKey
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(keys) == 0 {
				return nil, errors.New("not PEM")
			}
			break
		}
		var k any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key", b.Type)
		}
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%T is not an RSA key", k)
		}
		keys = append(keys, rk)
	}
	return keys, nil
}

// Name returns "bridge".
func (p *Provider) Name() string { return "bridge" }

// Headers lists the Bridge request headers kept with a stored event; the
// signature is not one of them.
func (p *Provider) Headers() []string { return []string{"Content-Type", "User-Agent"} }

// Verify checks X-Webhook-Signature against the raw body with the
// configured public keys, then the signature's timestamp against
// req.ReceivedAt (the Config's clock when zero).
//
// It returns an *relay.Error with code EUNAUTHORIZED when the header is
// missing or malformed or no key verifies the signature, and EINVALID when a
// correctly signed request's timestamp is more than the tolerance in the
// past or the future. The stale case is deliberately not EUNAUTHORIZED
// (unlike relay.Provider's general rule): the ingest handler answers
// EINVALID with 400, which is what Bridge asks for — it retries a 400 with a
// fresh timestamp and signature. The signature is checked first, so only a
// request Bridge really signed can earn that 400.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	ts, sigs, err := parseHeader(req.Header.Get(HeaderSignature))
	if err != nil {
		return err
	}
	h1 := sha256.New()
	h1.Write([]byte(ts))
	h1.Write([]byte{'.'})
	h1.Write(req.Body)
	h2 := sha256.Sum256(h1.Sum(nil))
	ok := false
	for _, k := range p.keys {
		for _, sig := range sigs {
			if !ok && rsa.VerifyPKCS1v15(k, crypto.SHA256, h2[:], sig) == nil {
				ok = true
			}
		}
	}
	if !ok {
		return relay.Errorf(relay.EUNAUTHORIZED, "invalid %s", HeaderSignature)
	}
	if p.tolerance <= 0 {
		return nil
	}
	ms, _ := strconv.ParseInt(ts, 10, 64) // parseHeader checked the digits
	now := req.ReceivedAt
	if now.IsZero() {
		now = p.now()
	}
	switch d := now.Sub(time.UnixMilli(ms)); {
	case d > p.tolerance:
		return relay.Errorf(relay.EINVALID, "stale %s timestamp; retry with a fresh signature", HeaderSignature)
	case d < -p.tolerance:
		return relay.Errorf(relay.EINVALID, "%s timestamp is in the future", HeaderSignature)
	}
	return nil
}

// Bounds on an X-Webhook-Signature header. Every v0 costs one RSA
// verification per configured key before the request is known to be
// Bridge's, so an unauthenticated header must not carry many: Bridge sends
// one, a key rotation on its side could send two, and five leaves room
// (Persona's adapter caps its sets the same way). maxHeaderBytes fits five
// signatures of a 4096-bit key (684 base64 characters each) with the
// timestamp, and refuses a padded header before it is split.
const (
	maxSignatures  = 5
	maxHeaderBytes = 4096
)

// parseHeader splits "t=<ms>,v0=<base64>" into the timestamp digits and the
// decoded signatures (every v0 present; other versions are ignored). It
// returns EUNAUTHORIZED for a missing or malformed header, and for one
// longer than maxHeaderBytes or with more than maxSignatures v0 values.
func parseHeader(h string) (string, [][]byte, error) {
	if h == "" {
		return "", nil, relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", HeaderSignature)
	}
	malformed := relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", HeaderSignature)
	if len(h) > maxHeaderBytes {
		return "", nil, malformed
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, malformed
		}
		switch k {
		case "t":
			if ts != "" || !digits(v) {
				return "", nil, malformed
			}
			ts = v
		case "v0":
			if len(sigs) == maxSignatures {
				return "", nil, malformed
			}
			// Bridge asks for strict decoding; a signature is never empty.
			sig, err := base64.StdEncoding.Strict().DecodeString(v)
			if err != nil || len(sig) == 0 {
				return "", nil, malformed
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return "", nil, malformed
	}
	return ts, sigs, nil
}

// digits reports whether s is 1 to 18 ASCII digits (a millisecond time that
// fits an int64).
func digits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Lenient payload field types (see package jsonfield).
type (
	id  = jsonfield.ID
	str = jsonfield.String
)

// payload holds the few fields Parse needs; the rest of the body is skipped.
type payload struct {
	EventID       id  `json:"event_id"`
	EventCategory str `json:"event_category"`
	EventType     str `json:"event_type"`
	EventObjectID id  `json:"event_object_id"`
	EventObject   struct {
		ID         id `json:"id"`
		CustomerID id `json:"customer_id"`
		OnBehalfOf id `json:"on_behalf_of"`
	} `json:"event_object"`
}

// Parse extracts the delivery id (event_id), the event type, the customer
// and the object:
//   - EventType is event_type, which Bridge documents as
//     "<event_category>.<mutation_type>" ("customer.updated",
//     "virtual_account.activity.created"); some of Bridge's own examples
//     send only the mutation ("created" in category "transfer"), so the
//     category is prefixed when event_type does not start with it.
//   - AccountID is the Bridge customer id: event_object_id for the
//     "customer" category, else event_object.customer_id, else
//     event_object.on_behalf_of (transfers).
//   - ResourceID is event_object_id (else event_object.id).
//
// It returns an *relay.Error with code EINVALID when the body is not a JSON
// object or has no event_id.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	var pl payload
	if err := json.Unmarshal(req.Body, &pl); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	if pl.EventID == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body has no event_id")
	}
	category, typ := string(pl.EventCategory), string(pl.EventType)
	in := relay.Inbound{DeliveryID: string(pl.EventID), EventType: typ, ResourceID: string(pl.EventObjectID)}
	switch {
	case typ == "":
		in.EventType = category
	case category != "" && typ != category && !strings.HasPrefix(typ, category+"."):
		in.EventType = category + "." + typ
	}
	if in.ResourceID == "" {
		in.ResourceID = string(pl.EventObject.ID)
	}
	switch {
	case category == "customer":
		in.AccountID = in.ResourceID
	case pl.EventObject.CustomerID != "":
		in.AccountID = string(pl.EventObject.CustomerID)
	default:
		in.AccountID = string(pl.EventObject.OnBehalfOf)
	}
	return in, nil
}
