package linear

import (
	"encoding/json"
	"strings"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

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
// absent.
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
