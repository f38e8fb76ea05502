// Package generic holds Relay's configurable webhook sources, for providers
// without a dedicated adapter: Standard Webhooks (webhook-id,
// webhook-timestamp, webhook-signature) and a plain HMAC-SHA256 of the raw
// body in a configurable header.
package generic

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relayhq/relay"
)

// DefaultTolerance is the Standard Webhooks timestamp tolerance.
const DefaultTolerance = 5 * time.Minute

// Standard Webhooks header names (canonical form).
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// The same headers under the names Svix uses. Senders that sign through
// Svix send the Standard Webhooks scheme under these; the official
// libraries accept both sets, and so does StandardWebhooks.
const (
	HeaderSvixID        = "Svix-Id"
	HeaderSvixTimestamp = "Svix-Timestamp"
	HeaderSvixSignature = "Svix-Signature"
)

// defaultEventType is the event type when the payload names none.
const defaultEventType = "webhook"

// StandardWebhooks verifies and parses webhooks signed per the Standard
// Webhooks spec. It implements relay.Provider and is safe for concurrent use.
type StandardWebhooks struct {
	name      string
	tolerance time.Duration
	wh        *standardwebhooks.Webhook
}

var _ relay.Provider = (*StandardWebhooks)(nil)

// NewStandardWebhooks returns a Standard Webhooks source served at name.
// secret is a "whsec_…" secret; tolerance 0 means DefaultTolerance. It returns
// an *relay.Error with code EINVALID when name is empty or the secret is not
// a valid Standard Webhooks secret.
func NewStandardWebhooks(name, secret string, tolerance time.Duration) (*StandardWebhooks, error) {
	if name == "" {
		return nil, relay.Errorf(relay.EINVALID, "name is required")
	}
	if err := relay.ValidateSecret(secret); err != nil {
		return nil, relay.Errorf(relay.EINVALID, "secret %s", relay.ErrorMessage(err))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, relay.Errorf(relay.EINVALID, "secret is not valid")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &StandardWebhooks{name: name, tolerance: tolerance, wh: wh}, nil
}

// Name returns the source's configured name.
func (s *StandardWebhooks) Name() string { return s.name }

// Headers lists the request headers kept with a stored event.
func (s *StandardWebhooks) Headers() []string {
	return []string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderSvixID, HeaderSvixTimestamp, "User-Agent", "Content-Type"}
}

// swHeaders holds the names, or the values, of one set of Standard Webhooks
// headers.
type swHeaders struct{ id, timestamp, signature string }

// headerSet returns the names and values of the set a request is signed
// with: the webhook-* set, or the svix-* set when the webhook-* set is
// incomplete and the svix-* set is not. Whole sets are taken, never a mix,
// as Svix's own libraries do.
func headerSet(h http.Header) (swHeaders, swHeaders) {
	std := swHeaders{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature}
	svix := swHeaders{HeaderSvixID, HeaderSvixTimestamp, HeaderSvixSignature}
	values := func(n swHeaders) swHeaders { return swHeaders{h.Get(n.id), h.Get(n.timestamp), h.Get(n.signature)} }
	v := values(std)
	if v.id == "" || v.timestamp == "" || v.signature == "" {
		if sv := values(svix); sv.id != "" && sv.timestamp != "" && sv.signature != "" {
			return svix, sv
		}
	}
	return std, v
}

// Verify checks that webhook-timestamp is within the tolerance of
// req.ReceivedAt and that one of the space-separated v1 signatures in
// webhook-signature matches; the svix-id, svix-timestamp and svix-signature
// headers stand for the webhook-* ones when those are not all present. It
// returns an *relay.Error with code EUNAUTHORIZED for a missing or malformed
// header, a stale timestamp or no matching signature.
func (s *StandardWebhooks) Verify(req *relay.WebhookRequest) error {
	names, v := headerSet(req.Header)
	for _, h := range [][2]string{{names.id, v.id}, {names.timestamp, v.timestamp}, {names.signature, v.signature}} {
		if h[1] == "" {
			return relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", h[0])
		}
	}
	sec, err := strconv.ParseInt(v.timestamp, 10, 64)
	if err != nil {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", names.timestamp)
	}
	now := req.ReceivedAt
	if now.IsZero() {
		now = time.Now()
	}
	if d := now.Sub(time.Unix(sec, 0)); d > s.tolerance || d < -s.tolerance {
		return relay.Errorf(relay.EUNAUTHORIZED, "stale timestamp")
	}
	// The library compares in constant time; its own timestamp check uses the
	// wall clock, so it is skipped in favour of the one above. It reads only
	// the webhook-* names, so a svix-* set is handed over under those.
	h := req.Header
	if names.id == HeaderSvixID {
		h = http.Header{HeaderWebhookID: {v.id}, HeaderWebhookTimestamp: {v.timestamp}, HeaderWebhookSignature: {v.signature}}
	}
	if err := s.wh.VerifyIgnoringTimestamp(req.Body, h); err != nil {
		return relay.Errorf(relay.EUNAUTHORIZED, "signature mismatch")
	}
	return nil
}

// Parse extracts the delivery id (webhook-id, or svix-id when the request is
// signed under the svix-* names) and the event type (the payload's "type"
// when it is a string, else "webhook"). It returns an *relay.Error with code
// EINVALID when the id header is missing or the body is not a JSON object.
func (s *StandardWebhooks) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	names, v := headerSet(req.Header)
	id := v.id
	if id == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "missing %s header", names.id)
	}
	var pl struct {
		Type str `json:"type"`
	}
	if err := json.Unmarshal(req.Body, &pl); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	in := relay.Inbound{DeliveryID: id, EventType: string(pl.Type)}
	if in.EventType == "" {
		in.EventType = defaultEventType
	}
	return in, nil
}

// HMACConfig configures an HMAC source.
type HMACConfig struct {
	// Header carries the signature (required).
	Header string
	// Secret is the HMAC-SHA256 key, used as its bytes (required).
	Secret string
	// Prefix precedes the encoded signature in the header, e.g. "sha256=".
	Prefix string
	// Encoding of the signature: "hex" (the default) or "base64" (standard,
	// padded).
	Encoding string
	// IDHeader, when set, names a header holding the delivery id.
	IDHeader string
	// IDField is the top-level body field holding the delivery id when
	// IDHeader is unset or absent; default "id".
	IDField string
	// TypeField is the top-level body field holding the event type; default
	// "type".
	TypeField string
}

// HMAC verifies and parses webhooks whose header carries an HMAC-SHA256 of
// the raw body. It implements relay.Provider and is safe for concurrent use.
type HMAC struct {
	name     string
	header   string
	prefix   string
	base64   bool
	idHeader string
	body     reflect.Type // struct{ID id; Type str} tagged with IDField, TypeField
	macs     sync.Pool    // of hash.Hash: HMAC-SHA256 keyed with the secret
}

var _ relay.Provider = (*HMAC)(nil)

// NewHMAC returns an HMAC source served at name. It returns an *relay.Error
// with code EINVALID naming the field when name, header or secret is empty,
// the encoding is unknown, or a field name cannot be used.
func NewHMAC(name string, cfg HMACConfig) (*HMAC, error) {
	switch {
	case name == "":
		return nil, relay.Errorf(relay.EINVALID, "name is required")
	case cfg.Header == "":
		return nil, relay.Errorf(relay.EINVALID, "header is required")
	case cfg.Secret == "":
		return nil, relay.Errorf(relay.EINVALID, "secret is required")
	}
	h := &HMAC{name: name, header: cfg.Header, prefix: cfg.Prefix, idHeader: cfg.IDHeader}
	switch cfg.Encoding {
	case "", "hex":
	case "base64":
		h.base64 = true
	default:
		return nil, relay.Errorf(relay.EINVALID, "encoding must be %q or %q", "hex", "base64")
	}
	idField, typeField := cfg.IDField, cfg.TypeField
	if idField == "" {
		idField = "id"
	}
	if typeField == "" {
		typeField = "type"
	}
	for _, f := range []struct{ name, value string }{{"id_field", idField}, {"type_field", typeField}} {
		if !validField(f.value) {
			return nil, relay.Errorf(relay.EINVALID, "%s %q is not a usable JSON field name", f.name, f.value)
		}
	}
	// A struct type built once with the configured field names lets
	// encoding/json pick out two top-level fields without decoding the rest.
	h.body = reflect.StructOf([]reflect.StructField{
		{Name: "ID", Type: reflect.TypeFor[id](), Tag: reflect.StructTag(`json:` + strconv.Quote(idField))},
		{Name: "Type", Type: reflect.TypeFor[str](), Tag: reflect.StructTag(`json:` + strconv.Quote(typeField))},
	})
	key := []byte(cfg.Secret)
	h.macs.New = func() any { return hmac.New(sha256.New, key) }
	return h, nil
}

// validField reports whether s can be a json struct tag name (the rule
// encoding/json applies; anything else it would silently ignore).
func validField(s string) bool {
	if s == "" || s == "-" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c > 127:
		default:
			return false
		}
	}
	return true
}

// Name returns the source's configured name.
func (h *HMAC) Name() string { return h.name }

// Headers lists the request headers kept with a stored event: the id header
// when configured, and the usual User-Agent and Content-Type.
func (h *HMAC) Headers() []string {
	out := []string{"User-Agent", "Content-Type"}
	if h.idHeader != "" {
		out = append([]string{http.CanonicalHeaderKey(h.idHeader)}, out...)
	}
	return out
}

// Verify checks the configured header: Prefix followed by the hex (or base64)
// HMAC-SHA256 of the raw body. It returns an *relay.Error with code
// EUNAUTHORIZED when the header is missing, malformed or wrong.
func (h *HMAC) Verify(req *relay.WebhookRequest) error {
	v := strings.TrimSpace(req.Header.Get(h.header))
	if v == "" {
		return relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", h.header)
	}
	enc, ok := strings.CutPrefix(v, h.prefix)
	if !ok {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", h.header)
	}
	var got [sha256.Size]byte
	var n int
	var err error
	if h.base64 {
		if len(enc) != base64.StdEncoding.EncodedLen(sha256.Size) {
			return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", h.header)
		}
		var buf [33]byte // DecodedLen(44)
		n, err = base64.StdEncoding.Decode(buf[:], []byte(enc))
		copy(got[:], buf[:n])
	} else {
		if len(enc) != hex.EncodedLen(sha256.Size) {
			return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", h.header)
		}
		n, err = hex.Decode(got[:], []byte(enc))
	}
	if err != nil || n != sha256.Size {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", h.header)
	}
	mac := h.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(req.Body)
	var want [sha256.Size]byte
	mac.Sum(want[:0])
	h.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return relay.Errorf(relay.EUNAUTHORIZED, "signature mismatch")
	}
	return nil
}

// Parse extracts the delivery id and the event type. The delivery id is the
// IDHeader value when configured and present, else the IDField value (string
// or number), else the hex SHA-256 of the raw body — so in that last case only
// byte-identical bodies de-duplicate. The event type is the TypeField string,
// else "webhook". It returns an *relay.Error with code EINVALID when the body
// is not a JSON object.
//
// With IDHeader configured, BodyKey is the hex SHA-256 of the raw body too
// (header present or not). The signature covers only the body, so the same
// signed body under another id header value is a replay, not a new delivery;
// the scheme has no timestamp, so the key holds for as long as the event is
// kept. The cost: a sender that sends byte-identical bodies as distinct
// deliveries has them stored once. Without IDHeader every delivery id comes
// from the signed body already and no second key is needed.
func (h *HMAC) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	pv := reflect.New(h.body)
	if err := json.Unmarshal(req.Body, pv.Interface()); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	v := pv.Elem()
	in := relay.Inbound{EventType: v.Field(1).String()}
	if in.EventType == "" {
		in.EventType = defaultEventType
	}
	if h.idHeader != "" {
		in.DeliveryID = req.Header.Get(h.idHeader)
	}
	if in.DeliveryID == "" {
		in.DeliveryID = v.Field(0).String()
	}
	var bodyHash string
	if in.DeliveryID == "" || h.idHeader != "" {
		sum := sha256.Sum256(req.Body)
		bodyHash = hex.EncodeToString(sum[:])
	}
	if in.DeliveryID == "" {
		in.DeliveryID = bodyHash
	}
	if h.idHeader != "" {
		in.BodyKey = bodyHash
	}
	return in, nil
}
