package sentry

import "github.com/relayhq/relay"

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps installation.deleted (the integration uninstalled) to a
// revoked connection.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	if in.EventType != "installation.deleted" || in.AccountID == "" {
		return nil, false
	}
	return &relay.LifecycleChange{AccountID: in.AccountID, Status: relay.ConnectionRevoked, Reason: "Sentry integration uninstalled"}, true
}
