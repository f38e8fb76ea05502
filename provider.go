package relay

import (
	"net/http"
	"time"
)

// WebhookRequest is an inbound webhook as the ingest handler received it: the
// raw body (exactly the bytes on the wire, which signatures cover), the
// headers, and the time it arrived (the clock used for timestamp tolerance).
type WebhookRequest struct {
	Header     http.Header
	Body       []byte
	ReceivedAt time.Time
}

// Inbound is what a provider adapter extracts from a verified webhook.
type Inbound struct {
	// DeliveryID identifies the provider's delivery; Relay de-duplicates on
	// (provider, DeliveryID). Never empty: adapters derive a deterministic one
	// when the provider sends none.
	DeliveryID string
	// EventType is "<event>.<action>" where the provider has both (GitHub
	// "issues.opened", Linear "Issue.create", Sentry "issue.created"), else the
	// provider's own type ("deployment.created").
	EventType string
	// AccountID is the provider account the event belongs to (GitHub
	// installation id, Linear organization id, Sentry installation uuid,
	// Vercel team or user id). Empty when the payload names none.
	AccountID string
	// ResourceID is the provider resource (repository, project, team) when the
	// payload names one.
	ResourceID string
	// BodyKey, when set, is a second de-duplication key derived from the
	// signed body (the hex SHA-256 of the raw body): Relay then stores at
	// most one event per (provider, BodyKey) as well. Adapters set it when
	// DeliveryID may come from a header the signature does not cover, so
	// that replaying a captured body under new delivery ids stores nothing
	// new.
	BodyKey string
	// Payload, when not "", is the JSON to store and deliver instead of the
	// raw body: the body is a wrapper whose signature covers it, such as
	// GitHub's form-encoded deliveries (payload=<url-encoded JSON>). It is
	// a string so that Inbound stays comparable.
	Payload string
}

// Provider is a webhook source: a code-defined provider adapter (github,
// linear, sentry, vercel, …) or a configured generic source.
type Provider interface {
	// Name is the path segment it is served at: POST /webhooks/{Name}.
	Name() string
	// Verify checks the request's signature (in constant time, over the raw
	// body) and, where the scheme has one, its timestamp against
	// req.ReceivedAt. It returns an *Error with code EUNAUTHORIZED for a
	// missing, malformed or wrong signature or a stale timestamp. A
	// provider that retries a stale delivery only after a 400 (Bridge, which
	// then signs it afresh) returns EINVALID for the stale timestamp of a
	// correctly signed request instead.
	Verify(req *WebhookRequest) error
	// Parse extracts the delivery id, event type, account and resource from a
	// verified request. It returns an *Error with code EINVALID when the body
	// is not the JSON the provider sends.
	Parse(req *WebhookRequest) (Inbound, error)
	// Headers lists the request headers worth keeping with the stored event
	// (canonical form). Signature headers and anything secret are never listed.
	Headers() []string
}
