package relay

import (
	"context"
	"time"
)

// IngestItem is one event for Store.InsertEvents, with the deliveries routing
// chose for it. The store fills Duplicate.
type IngestItem struct {
	Event      *Event
	Deliveries []*Delivery // Status pending; see LeaseOwner
	// LeaseOwner and LeaseUntil, when LeaseOwner is set, are written on the
	// new deliveries so that the inserting replica can dispatch them at once
	// without a separate claim; after LeaseUntil anyone may claim them.
	LeaseOwner string
	LeaseUntil time.Time

	// Duplicate is set by InsertEvents when an event with the same
	// (Provider, DeliveryID), or with the same non-empty (Provider, BodyKey),
	// already existed (stored earlier, or earlier in the same batch); then
	// nothing of this item was written, and Event.ID is replaced by the
	// existing event's id.
	Duplicate bool
}

// Claim is a delivery leased to one replica, with its event and destination.
type Claim struct {
	Delivery    *Delivery
	Event       *Event // its Headers may be left out: deliveries do not send them
	Destination *Destination
}

// Store is Relay's storage. Implementations: sqlite (embedded default) and
// postgres (scale-out); package storetest is the conformance suite both pass.
//
// Times are stored with at least millisecond precision and returned in UTC.
// Methods return an *Error with code ENOTFOUND for a missing id and
// ECONFLICT for a uniqueness violation; other failures are wrapped errors.
type Store interface {
	SecretStore

	// Migrate applies the embedded migrations that are not applied yet.
	Migrate(ctx context.Context) error
	// Ready returns nil when the database answers and every migration is applied.
	Ready(ctx context.Context) error
	// Close releases the database.
	Close() error

	// InsertEvents stores a batch of events and their deliveries in one
	// transaction (one durable commit). Events whose (Provider, DeliveryID)
	// exists, or whose non-empty (Provider, BodyKey) does, are marked
	// Duplicate and their deliveries are not written; both keys are unique in
	// the database, so concurrent replicas agree. When
	// it returns an error nothing of the batch is stored.
	InsertEvents(ctx context.Context, items []*IngestItem) error

	// GetEvent returns the event with its deliveries and their attempt logs.
	// When orgID is not "", an event of another org is ENOTFOUND.
	GetEvent(ctx context.Context, id, orgID string) (*Event, error)
	// ListEvents returns events newest first (by id), without deliveries.
	ListEvents(ctx context.Context, f EventFilter) (*Page[*Event], error)

	// GetDelivery returns the delivery with its attempt log. When orgID is
	// not "", a delivery of another org's event is ENOTFOUND.
	GetDelivery(ctx context.Context, id, orgID string) (*Delivery, error)
	// ListDeliveries returns deliveries newest first (by id).
	ListDeliveries(ctx context.Context, f DeliveryFilter) (*Page[*Delivery], error)

	// ClaimDue leases up to limit deliveries that are pending or retrying,
	// due (NextAttemptAt <= now), and whose destination is neither disabled, deleted, nor
	// paused (PausedUntil after now), to owner until now+lease. The limit is
	// shared across destinations as relay.ClaimFairly does; within one
	// destination the oldest NextAttemptAt comes first. Concurrent claimers
	// (other replicas) never receive the same delivery while its lease runs:
	// a claim (like a lease written by InsertEvents) also moves NextAttemptAt
	// to the lease's end, so a delivery whose replica died comes due again
	// by itself, and claimed rows are never rescanned.
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*Claim, error)
	// RecordOutcomes applies, in one transaction, each outcome: appends the
	// attempt to the delivery's log, sets its Status, Step, NextAttemptAt,
	// LastStatus, LastError, increments Attempts, clears its lease, and
	// disables the destination when DisableDestination is set.
	RecordOutcomes(ctx context.Context, outcomes []*Outcome, now time.Time) error
	// ReleaseLeases clears owner's lease on the given deliveries (those not
	// yet attempted at shutdown) and makes them due at once, first in line.
	ReleaseLeases(ctx context.Context, owner string, deliveryIDs []string) error

	// ReplayEvent makes every delivery of the event due again now with source
	// replay (same delivery ids, so the same webhook-id), and creates pending
	// replay deliveries for the given destinations that have none for it.
	// It returns the deliveries that will be sent. orgID scopes as in GetEvent.
	ReplayEvent(ctx context.Context, eventID, orgID string, newDestinations []string, now time.Time) ([]*Delivery, error)
	// ReplayDelivery makes one delivery due again now with source replay.
	ReplayDelivery(ctx context.Context, deliveryID, orgID string, now time.Time) (*Delivery, error)
	// ReplayDead makes every dead delivery of the destination created in
	// [since, until) due again now with source replay, and returns how many.
	ReplayDead(ctx context.Context, destinationID string, since, until, now time.Time) (int, error)

	// CreateDestination stores a new destination (ECONFLICT on a taken name).
	CreateDestination(ctx context.Context, d *Destination) error
	// UpdateDestination replaces the destination's mutable fields (all but
	// ID and CreatedAt); an empty Secret keeps the stored one.
	UpdateDestination(ctx context.Context, d *Destination) error
	// UpsertDestination creates the destination, or updates the one with the
	// same name keeping its id (used for config-file destinations). It fills
	// d.ID and d.CreatedAt.
	UpsertDestination(ctx context.Context, d *Destination) error
	// DeleteDestination soft-deletes it: it stops matching and its pending
	// deliveries stay undelivered; its history remains readable.
	DeleteDestination(ctx context.Context, id string) error
	// GetDestination returns a live (not deleted) destination, secret included.
	GetDestination(ctx context.Context, id string) (*Destination, error)
	// ListDestinations returns all live destinations, secrets included, by name.
	ListDestinations(ctx context.Context) ([]*Destination, error)
	// RotateDestinationSecret makes secret the destination's signing secret
	// and keeps the one it replaces as PreviousSecret until previousUntil,
	// both sealed like any destination secret (ENOTFOUND for a missing or
	// deleted destination). UpdateDestination with a new Secret drops the
	// previous one; UpsertDestination writes the PreviousSecret it is given.
	RotateDestinationSecret(ctx context.Context, id, secret string, previousUntil time.Time) error
	// PauseDestination stops claims for the destination until the given
	// time. ENOTFOUND for a missing id.
	PauseDestination(ctx context.Context, id string, until time.Time) error
	// ResumeDestination ends a pause and makes the destination's retrying
	// deliveries due now: their failures were the outage's, and it is over.
	// It returns how many deliveries it made due.
	ResumeDestination(ctx context.Context, id string, now time.Time) (int, error)
	// SetDestinationDisabled enables or disables a destination; reason is
	// kept while disabled.
	SetDestinationDisabled(ctx context.Context, id string, disabled bool, reason string) error

	// CreateAPIKey stores a key (ECONFLICT when the hash exists).
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKey returns the key with this hash, ENOTFOUND if none.
	FindAPIKey(ctx context.Context, hash string) (*APIKey, error)
	// SetAdminAPIKey makes k the only key named k.Name with OrgID "" (used for
	// the key from config): it deletes other admin keys of that name, then
	// stores k unless its hash is already stored.
	SetAdminAPIKey(ctx context.Context, k *APIKey) error
	// CountAPIKeys returns the number of stored keys.
	CountAPIKeys(ctx context.Context) (int, error)
	// ListAPIKeys returns the keys of org orgID, or every key when orgID is
	// "", oldest first (hashes included: callers must not show them).
	ListAPIKeys(ctx context.Context, orgID string) ([]*APIKey, error)
	// RevokeAPIKey deletes the key with this id and returns it. When orgID
	// is not "", only that org's keys can be revoked: another's is
	// ENOTFOUND, like a missing one. Revoking the last admin key is
	// ECONFLICT, so that Relay can always be administered.
	RevokeAPIKey(ctx context.Context, id, orgID string) (*APIKey, error)
	// TouchAPIKey records that the key was used at `at`, unless its
	// LastUsedAt is already less than APIKeyUsageResolution before it (so
	// replicas touching the same key write about once per resolution). A
	// missing key is not an error.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error

	// BlockedKeys returns up to limit ordered keys of the destination whose
	// head-of-line delivery (the earliest undelivered one) is retrying, or
	// dead while the destination's OnDead is block, longest blocked first.
	// A missing destination has none.
	BlockedKeys(ctx context.Context, destinationID string, limit int) ([]*BlockedKey, error)

	// QueueDepth returns how many deliveries are pending or retrying.
	QueueDepth(ctx context.Context) (int, error)
}

// IngestResult is the outcome of submitting one event for storage.
type IngestResult struct {
	EventID   string // the stored event's id (the earlier one for a duplicate)
	Duplicate bool   // an event with the same (provider, delivery id) existed
}
