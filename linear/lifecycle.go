package linear

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

var (
	_ relay.LifecycleParser    = (*Provider)(nil)
	_ relay.LifecycleConfirmer = (*Connector)(nil)
)

// Lifecycle maps Linear's notification that a workspace revoked Relay's
// OAuth app to a revoked connection of that workspace (AccountID =
// organizationId, as Parse reads it). Every other event is not a lifecycle
// event.
//
// The notification's shape is UNCONFIRMED in Linear's documentation: it is
// expected as type "OAuthApp", action "revoked", so the match is tolerant —
// case-insensitive, also accepting the type "OAuthAuthorization" and the
// actions "revoke" and "remove", and taking the organization from
// data.organizationId or the parsed AccountID when the top-level field is
// absent. Matching it is only a claim, which the connections service
// confirms with Linear (ConfirmLifecycle).
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	var pl struct {
		Type           str             `json:"type"`
		Action         str             `json:"action"`
		OrganizationID id              `json:"organizationId"`
		Data           json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &pl) != nil {
		return nil, false
	}
	switch strings.ToLower(string(pl.Type)) {
	case "oauthapp", "oauthauthorization":
	default:
		return nil, false
	}
	switch strings.ToLower(string(pl.Action)) {
	case "revoked", "revoke", "remove":
	default:
		return nil, false
	}
	acct := string(pl.OrganizationID)
	if acct == "" {
		var data struct {
			OrganizationID id `json:"organizationId"`
		}
		_ = json.Unmarshal(pl.Data, &data) // data may be anything
		acct = string(data.OrganizationID)
	}
	if acct == "" {
		acct = in.AccountID
	}
	if acct == "" {
		return nil, false
	}
	return &relay.LifecycleChange{AccountID: acct, Status: relay.ConnectionRevoked, Reason: "Linear OAuth app revoked"}, true
}

// ConfirmLifecycle confirms a revocation by calling Linear's API with the
// connection's token: an answer means the app is still authorized, and
// nothing changes (Status ""); the GraphQL error AUTHENTICATION_ERROR (what
// Linear answers a token it no longer accepts) for a token that has not
// expired means the authorization is gone (revoked).
// Any other claim changes nothing: Linear's lifecycle webhook announces
// only revocations.
//
// A refusal of an expired token says nothing about the authorization: it
// is EUNAVAILABLE (ask again once the token is refreshed), as are
// Linear's failures. EINVALID when the connection holds no token or
// Linear refuses otherwise.
func (c *Connector) ConfirmLifecycle(ctx context.Context, conn *relay.Connection, t *relay.Token, ch *relay.LifecycleChange) (*relay.LifecycleChange, error) {
	out := &relay.LifecycleChange{AccountID: conn.ExternalID}
	if ch.Status != relay.ConnectionRevoked {
		return out, nil
	}
	if t == nil || t.AccessToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: read workspace: the connection has no token")
	}
	var data struct {
		Organization struct {
			ID string `json:"id"`
		} `json:"organization"`
	}
	resp, err := c.graphql(ctx, t.AccessToken, "read workspace", `query Workspace { viewer { id } organization { id } }`, nil, &data)
	if err == nil {
		return out, nil
	}
	// graphQLStatus reads AUTHENTICATION_ERROR as the 401 it means.
	if httpjson.Code(resp) != http.StatusUnauthorized {
		return nil, err
	}
	if !t.ExpiresAt.IsZero() && !c.cfg.Now().Before(t.ExpiresAt) {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: read workspace: the token has expired; cannot confirm the revocation yet")
	}
	out.Status, out.Reason = relay.ConnectionRevoked, "Linear OAuth app revoked (confirmed with Linear)"
	return out, nil
}
