// Package sentry is Relay's adapter for Sentry integration (Sentry App)
// webhooks: it verifies Sentry-Hook-Signature and extracts a deterministic
// delivery id, the event type, the installation and the project.
//
// Sentry documents no timestamp tolerance, so none is enforced, and it sends no
// stable delivery id (Request-ID is new on every send), so one is derived from
// the payload.
package sentry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"

	"github.com/relayhq/relay/internal/hexmac"

	"github.com/relayhq/relay"
)

// Header names Sentry sends.
const (
	HeaderSignature = "Sentry-Hook-Signature"
	HeaderResource  = "Sentry-Hook-Resource"
)

// Config configures the Sentry adapter.
type Config struct {
	// ClientSecret is the integration's client secret, which signs webhooks.
	ClientSecret string
}

// Provider verifies and parses Sentry webhooks. It implements relay.Provider
// and is safe for concurrent use.
type Provider struct {
	sig *hexmac.Verifier
}

var _ relay.Provider = (*Provider)(nil)

// New returns a Sentry adapter that verifies with cfg.ClientSecret.
func New(cfg Config) *Provider {
	return &Provider{sig: hexmac.New(sha256.New, cfg.ClientSecret, HeaderSignature, "")}
}

// Name returns "sentry".
func (p *Provider) Name() string { return "sentry" }

// Headers lists the Sentry request headers kept with a stored event.
func (p *Provider) Headers() []string {
	return []string{"Sentry-Hook-Resource", "Sentry-Hook-Timestamp", "Request-Id", "User-Agent", "Content-Type"}
}

// Verify checks Sentry-Hook-Signature (hex HMAC-SHA256 of the raw body). It
// returns an *relay.Error with code EUNAUTHORIZED when the header is missing,
// malformed or wrong.
func (p *Provider) Verify(req *relay.WebhookRequest) error {
	return p.sig.Verify(req.Header.Get(HeaderSignature), req.Body)
}

// payload holds the few fields Parse needs; the rest of the body is skipped.
type payload struct {
	Action       str `json:"action"`
	Installation struct {
		UUID id `json:"uuid"`
	} `json:"installation"`
	Data data `json:"data"`
}

// object is what Parse reads of one object under "data" (data.issue,
// data.installation, data.error, …).
type object struct {
	// Identity, in order of preference: installation objects carry only a
	// uuid, event objects an event_id.
	ID      id `json:"id"`
	UUID    id `json:"uuid"`
	EventID id `json:"event_id"`

	// Timestamps, in order of preference (see stamp).
	DateCreated      id `json:"dateCreated"`
	DateCreatedSnake id `json:"date_created"`
	Timestamp        id `json:"timestamp"`
	Datetime         id `json:"datetime"`
	LastSeen         id `json:"lastSeen"`

	// Project: an object {"id": …} on issues, a bare id on some others.
	Project   project `json:"project"`
	ProjectID id      `json:"project_id"`
}

func (o *object) id() string {
	switch {
	case o.ID != "":
		return string(o.ID)
	case o.UUID != "":
		return string(o.UUID)
	}
	return string(o.EventID)
}

// stamp is the object's first present timestamp among dateCreated,
// date_created, timestamp, datetime and lastSeen.
func (o *object) stamp() string {
	for _, s := range []id{o.DateCreated, o.DateCreatedSnake, o.Timestamp, o.Datetime, o.LastSeen} {
		if s != "" {
			return string(s)
		}
	}
	return ""
}

func (o *object) project() string {
	if o.Project != "" {
		return string(o.Project)
	}
	return string(o.ProjectID)
}

// entry is one key of "data" whose value is a JSON object.
type entry struct {
	key string
	obj object
}

// data keeps the objects under "data" in document order, so that the
// fall-back "first object with an id" is deterministic.
type data []entry

// UnmarshalJSON implements json.Unmarshaler.
func (d *data) UnmarshalJSON(b []byte) error {
	*d = nil
	if len(b) == 0 || b[0] != '{' {
		return nil // null or not an object: nothing to read
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		e := entry{key: key}
		if err := json.Unmarshal(raw, &e.obj); err != nil {
			return err
		}
		*d = append(*d, e)
	}
	_, err := dec.Token()
	if err == io.EOF {
		err = nil
	}
	return err
}

// project is a project id given either as {"id": …} or as a bare id.
type project string

// UnmarshalJSON implements json.Unmarshaler.
func (p *project) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			ID id `json:"id"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*p = project(v.ID)
		return nil
	}
	var v id
	err := v.UnmarshalJSON(b)
	*p = project(v)
	return err
}

// Parse extracts a delivery id, the event type ("<resource>.<action>", e.g.
// "issue.created", with the resource from Sentry-Hook-Resource), the
// installation uuid and the project id.
//
// The data object is data.<resource> (e.g. data.issue), else the first object
// under data that has an id. The delivery id is the hex SHA-256 of resource,
// action, that object's id (its "id", else "uuid", else "event_id") and its
// first timestamp among dateCreated, date_created, timestamp, datetime and
// lastSeen, joined with NUL bytes. When no object has an id it is the hex
// SHA-256 of the raw body, so only identical bodies de-duplicate.
//
// ResourceID is the data object's project id (project.id, a bare project, or
// project_id): Sentry's issues, errors and alerts belong to a project, which is
// the unit an integration is configured for; it is empty for installation
// events.
//
// It returns an *relay.Error with code EINVALID when the body is not a JSON
// object.
func (p *Provider) Parse(req *relay.WebhookRequest) (relay.Inbound, error) {
	var pl payload
	if err := json.Unmarshal(req.Body, &pl); err != nil {
		return relay.Inbound{}, relay.Errorf(relay.EINVALID, "body is not valid JSON")
	}
	resource := req.Header.Get(HeaderResource)
	var obj *object
	for i := range pl.Data {
		if pl.Data[i].key == resource {
			obj = &pl.Data[i].obj
			break
		}
	}
	if obj == nil || obj.id() == "" {
		for i := range pl.Data {
			if pl.Data[i].obj.id() != "" {
				obj = &pl.Data[i].obj
				break
			}
		}
	}
	in := relay.Inbound{
		EventType: resource + "." + string(pl.Action),
		AccountID: string(pl.Installation.UUID),
	}
	switch {
	case resource == "" && pl.Action == "":
		in.EventType = ""
	case resource == "":
		in.EventType = string(pl.Action)
	case pl.Action == "":
		in.EventType = resource
	}
	if obj != nil && obj.id() != "" {
		in.DeliveryID = hashParts(resource, string(pl.Action), obj.id(), obj.stamp())
		in.ResourceID = obj.project()
	} else {
		sum := sha256.Sum256(req.Body)
		in.DeliveryID = hex.EncodeToString(sum[:])
		if obj != nil {
			in.ResourceID = obj.project()
		}
	}
	return in, nil
}

func hashParts(parts ...string) string {
	h := sha256.New()
	for i, s := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}
