package linear

import (
	"encoding/json"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps Linear's OAuth app revocation to a revoked connection. The
// payload's shape (type "OAuthApp", action "revoked", organizationId) is
// UNCONFIRMED in Linear's docs, so both the type and action are matched
// loosely; anything else is not a lifecycle event.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	var pl struct {
		Type           string `json:"type"`
		Action         string `json:"action"`
		OrganizationID string `json:"organizationId"`
	}
	if json.Unmarshal(body, &pl) != nil {
		return nil, false
	}
	if (pl.Type != "OAuthApp" && pl.Type != "OAuthAuthorization") || (pl.Action != "revoked" && pl.Action != "remove") {
		return nil, false
	}
	acct := pl.OrganizationID
	if acct == "" {
		acct = in.AccountID
	}
	if acct == "" {
		return nil, false
	}
	return &relay.LifecycleChange{AccountID: acct, Status: relay.ConnectionRevoked, Reason: "Linear OAuth app revoked"}, true
}
