package relay

import (
	"encoding/json"
	"time"
)

// Event is one received webhook (or, later, one backfilled item), stored
// exactly once per (Provider, DeliveryID).
type Event struct {
	ID           string `json:"id"` // "evt_…"; the envelope id and webhook-id
	Provider     string `json:"provider"`
	DeliveryID   string `json:"delivery_id"`
	EventType    string `json:"event_type"`
	Source       string `json:"source"` // live | backfill
	AccountID    string `json:"account_id,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
	OrgID        string `json:"org_id,omitempty"`
	ConnectionID string `json:"connection_id,omitempty"`
	// Match says whether the account was matched to a connection: MatchNone,
	// MatchMatched or MatchUnmatched (held for org-filtered destinations).
	Match      string            `json:"match,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"` // allow-listed request headers
	Payload    json.RawMessage   `json:"payload"`           // the provider's JSON, byte for byte
	ReceivedAt time.Time         `json:"received_at"`       // UTC, whole milliseconds: see EventTime
	// BodyKey is Inbound.BodyKey: when set, the store also keeps the event
	// unique on (Provider, BodyKey). Not exposed; it is write-only.
	BodyKey string `json:"-"`

	// Deliveries is filled by Store.GetEvent only.
	Deliveries []*Delivery `json:"deliveries,omitempty"`
}

// EventTime returns t as an event carries it: in UTC, truncated to the
// millisecond. Every event is created with it (received, backfilled or
// operational) because the stores keep milliseconds: an event that held
// more in memory would send a first attempt whose received_at differs from
// every retry's, replay's and the API's.
func EventTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its first attempt (or a replay)
	DeliveryRetrying  = "retrying"  // failed at least once; NextAttemptAt says when again
	DeliverySucceeded = "succeeded" // the destination answered 2xx
	DeliveryDead      = "dead"      // the retry schedule is exhausted, or the destination is gone (410)
)

// Delivery is one event to one destination.
type Delivery struct {
	ID            string `json:"id"` // "dlv_…"
	EventID       string `json:"event_id"`
	DestinationID string `json:"destination_id"`
	Status        string `json:"status"`
	Source        string `json:"source"` // the envelope source: the event's, or replay
	// OrderKey is the destination's ordering key for the event, fixed when
	// the delivery is created; "" for an unordered delivery.
	OrderKey      string    `json:"order_key,omitempty"`
	Attempts      int       `json:"attempts"` // attempts made in total, replays included
	Step          int       `json:"-"`        // position in the retry schedule; reset by a replay
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// AttemptLog is filled by Store.GetDelivery and Store.GetEvent only.
	AttemptLog []*Attempt `json:"attempt_log,omitempty"`
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	DeliveryID   string    `json:"delivery_id"`
	N            int       `json:"n"` // 1-based, over the delivery's whole life
	StartedAt    time.Time `json:"started_at"`
	StatusCode   int       `json:"status_code,omitempty"` // 0 when no response
	Latency      Duration  `json:"latency"`
	Error        string    `json:"error,omitempty"`         // transport error or "HTTP 500"
	ResponseBody string    `json:"response_body,omitempty"` // first 1 KiB
}

// Outcome is the result of one attempt together with the delivery state it
// leads to; the delivery engine computes it, Store.RecordOutcomes applies it.
type Outcome struct {
	Attempt       Attempt
	Status        string    // new delivery status
	Step          int       // new schedule position
	NextAttemptAt time.Time // when to try again (Status retrying)
	// DisableDestination, when set, disables the delivery's destination with
	// this reason (a 410 Gone).
	DisableDestination string
	// Owner is the lease holder that made the attempt. The delivery's state
	// changes only while the row is still leased to Owner: an outcome that
	// arrives after the delivery was replayed, or taken over by another
	// replica when the lease ran out, records its attempt and leaves the
	// state to the current holder. Empty applies the outcome regardless.
	Owner string
	// LeaseUntil, when set, is the end of the lease the attempt was made
	// under (the claimed delivery's NextAttemptAt), and the state changes
	// only while the row still holds that very lease: the outcome of an
	// attempt that was still in flight when its delivery was replayed and
	// claimed again by the same owner must not overwrite the new attempt's
	// state. The zero time checks the owner only.
	LeaseUntil time.Time
}

// EventFilter selects events for Store.ListEvents. Zero fields match all.
type EventFilter struct {
	Provider  string
	EventType string    // exact, or a glob as in MatchGlob
	Status    string    // events having at least one delivery in this status
	Since     time.Time // ReceivedAt >= Since
	Until     time.Time // ReceivedAt < Until
	OrgID     string    // set from an org-scoped key: only that org's events
	Cursor    string    // the id of the last event of the previous page
	Limit     int       // 1..1000; 0 means 100
}

// DeliveryFilter selects deliveries for Store.ListDeliveries.
type DeliveryFilter struct {
	EventID       string
	DestinationID string
	Status        string
	Since         time.Time // CreatedAt >= Since
	Until         time.Time // CreatedAt < Until
	OrgID         string
	Cursor        string // the id of the last delivery of the previous page
	Limit         int
}

// Page is one page of a list; Next is the cursor of the following page, ""
// on the last.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}
