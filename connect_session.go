package relay

import (
	"context"
	"time"
)

// ConnectSession lets a team's customer connect providers to the team's
// org on Relay's own page, /connect/{token}, without the team's app
// handling OAuth redirects: the page starts each allowed provider's
// connect flow and, when it ends, sends the browser to ReturnURL with the
// result. The token is a bearer of the session until it expires; only its
// hash is stored. Each provider can be connected through a session once.
type ConnectSession struct {
	ID        string    `json:"id"` // cs_…, not secret
	OrgID     string    `json:"org_id"`
	Providers []string  `json:"providers"` // the providers the page offers
	ReturnURL string    `json:"return_url"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	// Connected are the connections made through the session, by
	// provider; a provider in it cannot be connected through it again.
	Connected map[string]string `json:"connected"`
}

// Offers reports whether the session's page offers provider.
func (s *ConnectSession) Offers(provider string) bool {
	for _, p := range s.Providers {
		if p == provider {
			return true
		}
	}
	return false
}

// ConnectSessionStore keeps connect sessions.
type ConnectSessionStore interface {
	// CreateConnectSession stores a session under the SHA-256 (hex) of its
	// token (ECONFLICT when the id or the token hash exists); long-expired
	// sessions are swept on the way.
	CreateConnectSession(ctx context.Context, s *ConnectSession, tokenHash string) error
	// GetConnectSession returns a session with its connections, expired or
	// not (ENOTFOUND).
	GetConnectSession(ctx context.Context, id string) (*ConnectSession, error)
	// GetConnectSessionByToken returns the session whose token has the
	// hash tokenHash, expired or not (ENOTFOUND).
	GetConnectSessionByToken(ctx context.Context, tokenHash string) (*ConnectSession, error)
	// AddSessionConnection records that provider was connected through
	// the session as connectionID, once (ECONFLICT when the provider
	// already was; ENOTFOUND for an unknown session).
	AddSessionConnection(ctx context.Context, sessionID, provider, connectionID string, at time.Time) error
}
