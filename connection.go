package relay

import (
	"context"
	"net/url"
	"regexp"
	"time"
)

// Org is a tenant of the team's app. Its ID is the team's own id for it.
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

var orgIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// Validate returns an EINVALID *Error naming the first bad field.
func (o *Org) Validate() error {
	if !orgIDPattern.MatchString(o.ID) {
		return Errorf(EINVALID, "org id must be 1-128 characters of letters, digits and . _ : @ - (starting with a letter or digit)")
	}
	if len(o.Name) > 200 {
		return Errorf(EINVALID, "org name must be at most 200 characters")
	}
	return nil
}

// Connection statuses.
const (
	ConnectionPending   = "pending"   // installed but awaiting approval (GitHub setup_action=request): no token
	ConnectionActive    = "active"    // tokens held, events routed
	ConnectionSuspended = "suspended" // the provider suspended it; events still routed, no API calls
	ConnectionRevoked   = "revoked"   // the provider or the user revoked access
	ConnectionDeleted   = "deleted"   // torn down (soft-deleted); revived by a reconnect
)

// Connection links an org to one provider account (a GitHub App
// installation, a Linear workspace, a Sentry installation, a Vercel
// configuration). It is unique on (Provider, ExternalID): reconnecting the
// same account revives and reuses the row, whatever its status.
type Connection struct {
	ID          string `json:"id"` // "con_…"
	OrgID       string `json:"org_id"`
	Provider    string `json:"provider"`
	ExternalID  string `json:"external_id"` // the provider account id events carry (Inbound.AccountID)
	AccountName string `json:"account_name,omitempty"`
	Status      string `json:"status"`
	// StatusReason says why the status last changed (e.g. "installation deleted").
	StatusReason string `json:"status_reason,omitempty"`
	// Metadata holds provider specifics needed for later calls (Vercel
	// team_id, GitHub target type, Linear webhook id, …). Never a secret.
	Metadata       map[string]string `json:"metadata,omitempty"`
	TokenExpiresAt time.Time         `json:"token_expires_at,omitzero"`
	// Teardown is the teardown's progress once DELETE was asked: "" (none),
	// "pending", "done", or the step it is at.
	Teardown  string     `json:"teardown,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Resource is a provider resource of a connection (repository, project,
// team), unique on (ConnectionID, ExternalID). Events naming it route to
// its connection.
type Resource struct {
	ConnectionID string    `json:"connection_id"`
	Provider     string    `json:"provider"`
	ExternalID   string    `json:"external_id"` // Inbound.ResourceID
	Kind         string    `json:"kind"`        // repository | project | team
	Name         string    `json:"name,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Token is a connection's provider credentials, in clear. It exists in
// memory only: stores hold it sealed (SealedToken).
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"` // zero: does not expire
	Scope        string    `json:"scope,omitempty"`
}

// Sealed is a secret encrypted at rest: AES-256-GCM under the key KeyID
// names (a random nonce is part of Ciphertext).
type Sealed struct {
	KeyID      string
	Ciphertext []byte
}

// SealedToken is a connection's token as stored. Version increases on every
// write, so that a replica that refreshed a token can replace it only if
// nobody else did meanwhile (PutToken's compare-and-swap).
type SealedToken struct {
	ConnectionID string
	Sealed       Sealed
	ExpiresAt    time.Time // in clear, to find tokens due for refresh
	Version      int64
}

// SealToken returns a connection's token sealed for the connection's id.
// UpsertConnection calls it in its transaction once the id is settled (a
// reconnect keeps the row's id), so that the token is bound to the row it is
// stored in (TokenAD).
type SealToken func(connectionID string) (*SealedToken, error)

// Sealer encrypts and decrypts secrets at rest. associatedData names the
// value's owner (TokenAD, DestinationSecretAD): it is authenticated with the
// ciphertext, so a value opens only for the owner it was sealed for. Open
// returns an *Error with code EINTERNAL when no configured key has the
// sealed value's KeyID or the ciphertext does not authenticate for this
// owner.
type Sealer interface {
	Seal(plaintext, associatedData []byte) (Sealed, error)
	Open(s Sealed, associatedData []byte) ([]byte, error)
}

// OAuthState is a pending connect flow: random, single-use, bound to the
// provider, the org and the return URL, with the PKCE verifier, and bound
// to the browser that opened its start link.
type OAuthState struct {
	State        string // random, URL-safe
	Provider     string
	OrgID        string
	ReturnURL    string
	CodeVerifier string // PKCE; "" when the provider has none
	// StartHash is the SHA-256 (hex) of the random id of the flow's start
	// link, PublicURL/oauth/{provider}/start?flow=<id>. Only the hash is
	// stored: the link is a bearer of the flow until it is opened.
	StartHash string
	// BindingHash is the SHA-256 (hex) of the secret cookie given to the
	// browser that opened the start link; "" until it was opened. The
	// callback is accepted only from a browser that holds that cookie.
	BindingHash string
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// FlowStart is what opening a connect flow's start link yields: the
// provider's authorize URL to send the browser to, and the binding secret
// the browser keeps (as a cookie) until the provider sends it back.
type FlowStart struct {
	AuthorizeURL string
	State        string // the flow's state, which the callback carries
	Binding      string // secret; the store has only its hash
	ExpiresAt    time.Time
}

// ConnectionFilter selects connections for ListConnections.
type ConnectionFilter struct {
	OrgID          string // "" = every org
	Provider       string
	IncludeDeleted bool
}

// HeldRelease is what releasing an account's held events needs: the
// connection they now belong to, and the destinations to create deliveries
// for (Routes.ForRelease: those filtered to the connection's org; the
// others received the events when they arrived). Plan (route.go) plans
// the deliveries.
type HeldRelease struct {
	Provider     string
	AccountID    string
	OrgID        string
	ConnectionID string
	Destinations []*Destination
	Now          time.Time
}

// Event match states (Event.Match).
const (
	MatchNone      = ""          // the event names no account: not routed to an org
	MatchMatched   = "matched"   // OrgID and ConnectionID are set
	MatchUnmatched = "unmatched" // names an account no connection knows: held for org-filtered destinations
)

// ConnectionStore stores orgs, connections, their resources and sealed
// tokens (re-sealed by SecretStore.ResealAll), and pending OAuth states.
// Implemented by sqlite and postgres next to Store; storetest checks both.
type ConnectionStore interface {
	// CreateOrg stores an org (ECONFLICT when the id exists).
	CreateOrg(ctx context.Context, o *Org) error
	// GetOrg returns an org (ENOTFOUND).
	GetOrg(ctx context.Context, id string) (*Org, error)
	// ListOrgs returns every org by id.
	ListOrgs(ctx context.Context) ([]*Org, error)

	// CreateOAuthState stores a pending connect flow.
	CreateOAuthState(ctx context.Context, s *OAuthState) error
	// TakeOAuthState deletes the state and returns it: a state is usable
	// once. ENOTFOUND when unknown or already taken (expiry is the caller's
	// check, so that it can say "expired").
	TakeOAuthState(ctx context.Context, state string) (*OAuthState, error)
	// GetOAuthState returns a pending state without taking it (ENOTFOUND),
	// so that a callback from the wrong browser leaves it usable.
	GetOAuthState(ctx context.Context, state string) (*OAuthState, error)
	// BindOAuthState records bindingHash on the state whose StartHash is
	// startHash, if no browser was bound to it yet, and returns the state:
	// of concurrent binders, one wins. ENOTFOUND when no state has that
	// start link; ECONFLICT when it was already opened. Expiry is the
	// caller's check.
	BindOAuthState(ctx context.Context, startHash, bindingHash string) (*OAuthState, error)

	// ConnectionGeneration returns a counter that every change of who an
	// account or resource routes to increases, in the same transaction as
	// the change: UpsertConnection, SetConnectionStatus, DeleteConnection,
	// UpdateResources and pairing. Match caches of every replica compare
	// it to know when to forget what they hold.
	ConnectionGeneration(ctx context.Context) (int64, error)

	// UpsertConnection creates the connection for (Provider, ExternalID), or
	// updates the existing row — live or deleted — keeping its ID and
	// CreatedAt (a reconnect revives it: DeletedAt and Teardown cleared). It
	// fills c.ID, c.CreatedAt and c.UpdatedAt, stores the token seal returns
	// when seal is not nil (replacing any token, Version+1, set on it), and
	// replaces the connection's resources with resources when not nil, in
	// one transaction. A live connection of the account owned by another org
	// is ECONFLICT; an error of seal is returned as it is.
	UpsertConnection(ctx context.Context, c *Connection, seal SealToken, resources []*Resource) (created bool, err error)
	// GetConnection returns a connection, deleted ones included. When orgID
	// is not "", a connection of another org is ENOTFOUND.
	GetConnection(ctx context.Context, id, orgID string) (*Connection, error)
	// ListConnections returns connections by id.
	ListConnections(ctx context.Context, f ConnectionFilter) ([]*Connection, error)
	// FindConnection returns the live (not deleted) connection of a provider
	// account, ENOTFOUND if none.
	FindConnection(ctx context.Context, provider, externalID string) (*Connection, error)
	// FindConnectionByResource returns the live connection owning a live
	// resource, ENOTFOUND if none.
	FindConnectionByResource(ctx context.Context, provider, resourceID string) (*Connection, error)
	// SetConnectionStatus changes status and reason (ENOTFOUND).
	SetConnectionStatus(ctx context.Context, id, status, reason string, now time.Time) error
	// SetConnectionMetadata merges keys into the metadata ("" deletes a key).
	SetConnectionMetadata(ctx context.Context, id string, kv map[string]string, now time.Time) error
	// SetTeardown records the teardown's progress.
	SetTeardown(ctx context.Context, id, step string, now time.Time) error
	// DeleteConnection soft-deletes the connection and its resources in one
	// transaction (status deleted, DeletedAt now, token removed).
	DeleteConnection(ctx context.Context, id string, now time.Time) error
	// ListResources returns the live resources of a connection.
	ListResources(ctx context.Context, connectionID string) ([]*Resource, error)
	// UpdateResources adds (upserting, reviving) and removes resources.
	UpdateResources(ctx context.Context, connectionID string, add []*Resource, remove []string, now time.Time) error

	// GetToken returns the connection's sealed token, ENOTFOUND if none.
	GetToken(ctx context.Context, connectionID string) (*SealedToken, error)
	// PutToken replaces the token if its stored Version is still
	// prevVersion (ECONFLICT otherwise: another caller refreshed it first),
	// setting Version to prevVersion+1 and the connection's TokenExpiresAt.
	PutToken(ctx context.Context, t *SealedToken, prevVersion int64) error
	// ReleaseHeld matches the account's unmatched events to the connection
	// and writes the deliveries r.Plan plans for them (which decides
	// destinations, order and due times), in one transaction, so that a
	// concurrent release of the same account finds nothing left. It
	// returns how many events it released.
	ReleaseHeld(ctx context.Context, r HeldRelease) (int, error)
}

// Grant is what a completed connect flow yields.
type Grant struct {
	Connection *Connection // ExternalID, AccountName, Status, Metadata filled
	Token      *Token      // nil when the connection is pending (no token yet)
	Resources  []*Resource
}

// Connector is the optional OAuth capability of a provider adapter: connect,
// refresh, revoke, list resources. Errors from the provider are returned as
// *Error with code EUNAVAILABLE (the provider failed or timed out) or
// EINVALID (it refused: a bad code, denied consent), with a message that
// names the provider and the call and never contains a token. Exchange
// returns EFORBIDDEN when the provider does not vouch for the account the
// redirect names (a GitHub installation_id the installing user cannot
// access).
type Connector interface {
	// Name is the provider's name ("github", …).
	Name() string
	// PKCE reports whether the authorize URL takes an S256 code challenge.
	PKCE() bool
	// AuthorizeURL is where the user is sent to connect. codeChallenge is ""
	// when PKCE is false.
	AuthorizeURL(state, redirectURI, codeChallenge string) string
	// Exchange completes the provider's redirect to Relay's callback (query
	// holds its parameters): it exchanges the code, and fetches the account
	// and its resources.
	Exchange(ctx context.Context, query url.Values, redirectURI, codeVerifier string) (*Grant, error)
	// Refresh returns a fresh token for the connection (GitHub mints a new
	// installation token; OAuth providers use the refresh token). When the
	// provider's answer has no expiry, the returned ExpiresAt is zero and
	// the caller keeps the old one; an empty RefreshToken likewise keeps
	// the old refresh token.
	Refresh(ctx context.Context, c *Connection, t *Token) (*Token, error)
	// Revoke revokes the token at the provider. Providers without a
	// revocation endpoint return nil.
	Revoke(ctx context.Context, c *Connection, t *Token) error
	// Resources lists the connection's resources at the provider.
	Resources(ctx context.Context, c *Connection, t *Token) ([]*Resource, error)
}

// WebhookRegistrar is the optional capability of providers whose webhooks
// are registered through their API (Linear, Vercel).
type WebhookRegistrar interface {
	// RegisterWebhook registers url for the connection's events and returns
	// the provider's webhook id and, when the provider generated one, its
	// signing secret.
	RegisterWebhook(ctx context.Context, c *Connection, t *Token, url string) (id, secret string, err error)
	// DeregisterWebhook deletes it; a webhook already gone is not an error.
	DeregisterWebhook(ctx context.Context, c *Connection, t *Token, id string) error
}

// LifecycleChange is what a provider's lifecycle webhook means for a
// connection: as the webhook claims it (LifecycleParser), or as the
// provider confirmed it (LifecycleConfirmer).
type LifecycleChange struct {
	AccountID       string      `json:"account_id"`
	Status          string      `json:"status,omitempty"` // new status, "" for none
	Reason          string      `json:"reason,omitempty"`
	AddResources    []*Resource `json:"add_resources,omitempty"`
	RemoveResources []string    `json:"remove_resources,omitempty"` // resource external ids
	// Resources, when not nil, is every resource the provider lists for
	// the account now: the connection's resources are made to match it
	// (AddResources and RemoveResources are then not used). Only a
	// confirmed change carries it.
	Resources []*Resource `json:"resources,omitempty"`
}

// LifecycleParser is the optional capability of providers that announce
// installs, suspensions, removals and resource changes by webhook. What it
// returns is the webhook's claim, applied only as far as the provider
// confirms it (LifecycleConfirmer).
type LifecycleParser interface {
	// Lifecycle returns the change a verified webhook of this event type
	// claims, or false when it is not a lifecycle event (including a body
	// that does not have the claimed event's shape).
	Lifecycle(in Inbound, payload []byte) (*LifecycleChange, bool)
}

// LifecycleConfirmer is the optional capability of connectors that can ask
// the provider whether what a lifecycle webhook claims is true. Lifecycle
// webhooks are not to be trusted on their own: parts of what they claim
// travel in unsigned headers (GitHub's X-GitHub-Event, Sentry's
// Sentry-Hook-Resource), so a captured signed body can be re-sent as
// another event. A connection changes status or resources from a webhook
// only through a confirmer; a provider whose connector has none gets no
// change from its lifecycle webhooks.
type LifecycleConfirmer interface {
	// ConfirmLifecycle asks the provider about the connection the claimed
	// change ch is about, with t the connection's token (refreshed when it
	// was due; nil when it holds none), and returns the change the
	// provider's answer means: its Status is the provider's ("" when the
	// answer changes nothing, e.g. an uninstall claimed of an installation
	// that is still there), and resource changes come as Resources, the
	// provider's whole list. It returns EUNAVAILABLE when the provider
	// could not be asked or its answer cannot be read (to be tried again
	// later), and another *Error (EINVALID) when the provider refused the
	// question itself.
	ConfirmLifecycle(ctx context.Context, c *Connection, t *Token, ch *LifecycleChange) (*LifecycleChange, error)
}
