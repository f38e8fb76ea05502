package relay

import (
	"context"
	"encoding/json"
	"time"
)

// Resolution outcomes (Resolution.Outcome).
const (
	// ResolvePaired: one org was found and the account paired to it: a
	// connection now exists and its held events were released.
	ResolvePaired = "paired"
	// ResolveAlreadyPaired: the account had a live connection by the time
	// the pairing was tried (a concurrent resolution or a connect flow won).
	// Nothing changed.
	ResolveAlreadyPaired = "already_paired"
	// ResolveAmbiguous: the chain found several orgs; nothing was paired
	// and the events stay held.
	ResolveAmbiguous = "ambiguous"
	// ResolveOrgNotFound: the chain named an org Relay does not know;
	// nothing was paired and the events stay held.
	ResolveOrgNotFound = "org_not_found"
	// ResolveUnresolved: no resolver found an org; the events stay held and
	// the account is tried again later and when another of its events
	// arrives.
	ResolveUnresolved = "unresolved"
	// ResolveFailed: a resolver failed (a provider error or timeout); the
	// job retries with backoff.
	ResolveFailed = "failed"
)

// ResolveQuery is an account to resolve to an org and what the chain has
// learnt of it so far.
type ResolveQuery struct {
	Provider  string
	AccountID string
	// Attributes are what earlier resolvers learnt ("email", …).
	Attributes map[string]string
	// Payload is the account's latest held event's payload, for resolvers
	// that read the event itself.
	Payload json.RawMessage
}

// ResolveStep is one resolver's answer.
type ResolveStep struct {
	// Attributes are merged into the query for the resolvers after it.
	Attributes map[string]string
	// OrgIDs are the candidate orgs it found: one pairs, several are
	// ambiguous, none passes the query on to the next resolver.
	OrgIDs []string
}

// Resolver is one step of a provider's resolver chain. Errors are *Error
// values: EUNAVAILABLE when a service it asked failed or timed out (the
// resolution is retried), EINVALID when it cannot work with what it was
// given (a configuration error, recorded).
type Resolver interface {
	// Name names the resolver in outcomes and logs ("bridge_customer").
	Name() string
	Resolve(ctx context.Context, q *ResolveQuery) (*ResolveStep, error)
}

// Resolution is the recorded outcome of the latest resolution of a
// provider account.
type Resolution struct {
	Provider     string    `json:"provider"`
	AccountID    string    `json:"account_id"`
	Outcome      string    `json:"outcome"`
	OrgID        string    `json:"org_id,omitempty"`        // the org found (paired, already_paired, org_not_found)
	ConnectionID string    `json:"connection_id,omitempty"` // the account's connection (paired, already_paired)
	Candidates   []string  `json:"candidates,omitempty"`    // the orgs found (ambiguous)
	Resolver     string    `json:"resolver,omitempty"`      // the resolver that decided, or failed
	Attempts     int       `json:"attempts"`                // resolutions run for the account
	LastError    string    `json:"last_error,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// HeldAccount is a provider account with held (unmatched) events.
type HeldAccount struct {
	Provider  string
	AccountID string
	// LatestEventID is its most recent held event.
	LatestEventID string
}

// ResolutionStore stores resolution outcomes and pairs accounts.
// Implemented by sqlite and postgres; storetest checks both.
type ResolutionStore interface {
	// PairConnection creates the connection of c's (Provider, ExternalID)
	// for c.OrgID, or revives its deleted row, active and without a token,
	// filling c's ID and times. When the account already has a live
	// connection it changes nothing and returns ECONFLICT together with that
	// connection: the unique (provider, external id) row decides between
	// concurrent pairings.
	PairConnection(ctx context.Context, c *Connection) (*Connection, error)
	// PutResolution records r as the account's latest resolution, counting
	// one attempt more than the one it replaces.
	PutResolution(ctx context.Context, r *Resolution) error
	// GetResolution returns the account's latest resolution (ENOTFOUND).
	GetResolution(ctx context.Context, provider, accountID string) (*Resolution, error)
	// ListResolutions returns the latest resolutions, of one provider when
	// provider is not "", most recently updated first, at most limit.
	ListResolutions(ctx context.Context, provider string, limit int) ([]*Resolution, error)
	// HeldAccounts returns up to limit accounts of the providers with held
	// events, each with its latest held event.
	HeldAccounts(ctx context.Context, providers []string, limit int) ([]HeldAccount, error)
}
