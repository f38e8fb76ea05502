// Package persona is Relay's adapter for Persona (withpersona.com): it
// verifies Persona-Signature webhooks (accepting either signature during a
// secret rotation), extracts the event id, event name, Persona account and
// resource, and looks accounts up through Persona's accounts API (client.go)
// for the resolver chain.
//
// Persona's resources carry the team's own user or org id as
// attributes["reference-id"]; the webhook's AccountID is the Persona account
// id (act_…) and the reference id is exposed separately (ReferenceID), for
// resolvers that map it to an org.
package persona

import (
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relayhq/relay/internal/hexmac"
	"github.com/relayhq/relay/internal/jsonfield"

	"github.com/relayhq/relay"
)

// Header names Persona sends.
const (
	HeaderSignature    = "Persona-Signature"
	HeaderAttemptsMade = "Persona-Webhook-Attempts-Made"
	HeaderAttemptsLeft = "Persona-Webhook-Attempts-Left"
)

// DefaultTolerance is the allowed skew between the signature's t and the time
// Relay received the request. UNCONFIRMED: Persona documents no tolerance;
// 5 minutes is the common choice for "t=…,v1=…" schemes (Stripe's default).
const DefaultTolerance = 5 * time.Minute

// maxSets bounds the t=…,v1=… sets (and v1 values) read from one header, so
// a hostile header cannot make Verify compute many MACs. Persona sends two
// at most (during a rotation).
const maxSets = 4

// Config configures the Persona adapter.
type Config struct {
	// WebhookSecrets are the webhook's signing secrets (at least one); a
	// signature made with any of them is accepted, so a rotation can list
	// the old and the new secret while Persona switches over.
	WebhookSecrets []string
	// Tolerance is the allowed |ReceivedAt - t|; 0 means DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock used when a request has no ReceivedAt; default
	// time.Now.
	Now func() time.Time
}

// Provider verifies and parses Persona webhooks. It implements
// relay.Provider and is safe for concurrent use.
type Provider struct {
	tolerance time.Duration
	now       func() time.Time
	sigs      []*hexmac.Verifier // one per secret
	bufs      sync.Pool          // *[]byte holding "<t>.<body>"
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Persona adapter for cfg. It returns an *relay.Error with
// code EINVALID when cfg has no secret or an empty one.
func New(cfg Config) (*Provider, error) {
	if len(cfg.WebhookSecrets) == 0 {
		return nil, relay.Errorf(relay.EINVALID, "persona: a webhook secret is required")
	}
	p := &Provider{tolerance: cfg.Tolerance, now: cfg.Now}
	for _, s := range cfg.WebhookSecrets {
		if s == "" {
			return nil, relay.Errorf(relay.EINVALID, "persona: webhook secrets must not be empty")
		}
		p.sigs = append(p.sigs, hexmac.New(sha256.New, s, HeaderSignature, ""))
	}
	if p.tolerance <= 0 {
		p.tolerance = DefaultTolerance
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Name returns "persona".
func (p *Provider) Name() string { return "persona" }

// Headers lists the Persona request headers kept with a stored event.
func (p *Provider) Headers() []string {
	return []string{HeaderAttemptsMade, HeaderAttemptsLeft, "User-Agent", "Content-Type"}
}

// sigSet is one "t=…,v1=…" set of a Persona-Signature header.
type sigSet struct {
	t  string
	v1 []string
}

// parseSignature reads the header's sets. Sets are separated by spaces and
// their parts by commas; a "t=" part starts a new set, so a header with
// spaces after the commas reads the same. Parts other than t and v1 are
// ignored. It returns false when no set has both a numeric t and a v1, or
// when the header has more than maxSets sets or v1 values.
func parseSignature(h string) ([]sigSet, bool) {
	var sets []sigSet
	nv1 := 0
	for _, part := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, false
		}
		switch k {
		case "t":
			if _, err := strconv.ParseInt(v, 10, 64); err != nil || len(sets) == maxSets {
				return nil, false
			}
			sets = append(sets, sigSet{t: v})
		case "v1":
			if len(sets) == 0 || nv1 == maxSets {
				return nil, false
			}
			nv1++
			sets[len(sets)-1].v1 = append(sets[len(sets)-1].v1, v)
		}
	}
	usable := 0
	for _, s := range sets {
		if len(s.v1) > 0 {
			usable++
		}
	}
	return sets, usable > 0
}

// Verify checks Persona-Signature: "t=<unix s>,v1=<hex HMAC-SHA256 of
// "<t>.<raw body>">", or two such sets separated by a space while Persona
// rotates the secret. The request is accepted when any v1 of any set matches
// any configured secret (compared in constant time) and that set's t is
// within the tolerance of req.ReceivedAt. It returns an *relay.Error with
// code EUNAUTHORIZED when the header is missing or malformed, no signature
// matches, or the only matching signatures are stale.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	h := strings.TrimSpace(req.Header.Get(HeaderSignature))
	if h == "" {
		return relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", HeaderSignature)
	}
	sets, ok := parseSignature(h)
	if !ok {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", HeaderSignature)
	}
	now := req.ReceivedAt
	if now.IsZero() {
		now = p.now()
	}
	stale := false
	for _, s := range sets {
		if len(s.v1) == 0 || !p.matches(s, req.Body) {
			continue
		}
		sec, _ := strconv.ParseInt(s.t, 10, 64) // checked by parseSignature
		if d := now.Sub(time.Unix(sec, 0)); d <= p.tolerance && d >= -p.tolerance {
			return nil
		}
		stale = true
	}
	if stale {
		return relay.Errorf(relay.EUNAUTHORIZED, "stale timestamp")
	}
	return relay.Errorf(relay.EUNAUTHORIZED, "signature mismatch")
}

// maxPooled is the largest message buffer kept for reuse, so one large
// webhook does not pin its size in the pool.
const maxPooled = 1 << 20

// matches reports whether a v1 of s is the MAC of "<t>.<body>" under one of
// the secrets.
func (p *Provider) matches(s sigSet, body []byte) bool {
	bp, _ := p.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	msg := append(append(append((*bp)[:0], s.t...), '.'), body...)
	defer func() {
		if cap(msg) <= maxPooled {
			*bp = msg[:0]
			p.bufs.Put(bp)
		}
	}()
	for _, v := range s.v1 {
		for _, sig := range p.sigs {
			if sig.Verify(v, msg) == nil {
				return true
			}
		}
	}
	return false
}

type (
	id  = jsonfield.ID
	str = jsonfield.String
)

// resource is what the adapter reads of a JSON:API resource: the one at
// data.attributes.payload.data, or one under payload.included.
type resource struct {
	Type       str `json:"type"`
	ID         id  `json:"id"`
	Attributes struct {
		// Persona webhooks can be configured to inflect keys as kebab (the
		// API's default), camel or snake case.
		ReferenceID      str `json:"reference-id"`
		ReferenceIDCamel str `json:"referenceId"`
		ReferenceIDSnake str `json:"reference_id"`
	} `json:"attributes"`
	Relationships struct {
		Account struct {
			Data struct {
				ID id `json:"id"`
			} `json:"data"`
		} `json:"account"`
	} `json:"relationships"`
}

func (r *resource) referenceID() string {
	switch {
	case r.Attributes.ReferenceID != "":
		return string(r.Attributes.ReferenceID)
	case r.Attributes.ReferenceIDCamel != "":
		return string(r.Attributes.ReferenceIDCamel)
	}
	return string(r.Attributes.ReferenceIDSnake)
}

// accountID is the resource's Persona account: itself when it is an
// account, else its account relationship.
func (r *resource) accountID() string {
	if r.Type == "account" || (r.Type == "" && strings.HasPrefix(string(r.ID), "act_")) {
		return string(r.ID)
	}
	return string(r.Relationships.Account.Data.ID)
}

// event holds the few fields of a Persona event the adapter needs.
// Included resources are kept raw and decoded only when ReferenceID needs
// them, so an unexpected one never fails Parse.
type event struct {
	Data struct {
		ID         id `json:"id"`
		Attributes struct {
			Name    str `json:"name"`
			Payload struct {
				Data     resource          `json:"data"`
				Included []json.RawMessage `json:"included"`
			} `json:"payload"`
		} `json:"attributes"`
	} `json:"data"`
}

// Parse extracts the delivery id (data.id, "evt_…", the same on every
// retry), the event type (data.attributes.name, e.g. "inquiry.approved"),
// the Persona account id and the resource id of the resource at
// data.attributes.payload.data: AccountID is that resource's id when it is
// an account ("act_…"), else its relationships.account.data.id (inquiries,
// verifications, reports, …), empty when it has none; ResourceID is the
// resource's id. It returns an *relay.Error with code EINVALID when the body
// is not JSON or has no data.id.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	var ev event
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	if ev.Data.ID == "" {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "missing data.id")
	}
	res := &ev.Data.Attributes.Payload.Data
	return relay.Inbound{
		DeliveryID: string(ev.Data.ID),
		EventType:  string(ev.Data.Attributes.Name),
		AccountID:  res.accountID(),
		ResourceID: string(res.ID),
	}, nil
}

// ReferenceID returns the team's own id for the webhook's subject (see
// PayloadReferenceID): what Persona resolver chains map to an org when the
// account has no connection yet. It is "" when the body names none or is
// not JSON; it never fails.
func (p *Provider) ReferenceID(req *relay.WebhookRequest) string {
	return PayloadReferenceID(req.Body)
}

// PayloadReferenceID returns the reference id of a Persona event payload
// (the body as received, or as stored with the event): the
// attributes["reference-id"] of the resource at
// data.attributes.payload.data, else that of the included account resource
// the payload's account id names. Resolvers, which see the stored payload
// rather than the request, call it directly. It is "" when the payload names
// none or is not JSON; it never fails.
func PayloadReferenceID(payload []byte) string {
	var ev event
	if json.Unmarshal(payload, &ev) != nil {
		return ""
	}
	res := &ev.Data.Attributes.Payload.Data
	if ref := res.referenceID(); ref != "" {
		return ref
	}
	acct := res.accountID()
	if acct == "" {
		return ""
	}
	for _, raw := range ev.Data.Attributes.Payload.Included {
		var inc resource
		if json.Unmarshal(raw, &inc) != nil {
			continue
		}
		if inc.Type == "account" && string(inc.ID) == acct {
			return inc.referenceID()
		}
	}
	return ""
}
