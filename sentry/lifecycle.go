package sentry

import (
	"encoding/json"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps installation.deleted (the organization uninstalled the
// integration) to a revoked connection. The account is the installation
// uuid (in.AccountID, which Parse took from installation.uuid; read from
// the body when empty) — the ExternalID the connector gives the connection.
// installation.created is not a change (the connect flow creates the
// connection); neither is any other event, or one naming no installation.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	if in.EventType != "installation.deleted" {
		return nil, false
	}
	acct := in.AccountID
	if acct == "" {
		var pl struct {
			Installation struct {
				UUID id `json:"uuid"`
			} `json:"installation"`
		}
		if json.Unmarshal(body, &pl) != nil {
			return nil, false
		}
		acct = string(pl.Installation.UUID)
	}
	if acct == "" {
		return nil, false
	}
	return &relay.LifecycleChange{AccountID: acct, Status: relay.ConnectionRevoked, Reason: "integration uninstalled"}, true
}
