package github

import (
	"encoding/json"
	"strconv"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps the App's installation webhooks to connection changes:
// installation deleted → revoked, suspend → suspended, unsuspend and
// new_permissions_accepted → active; installation_repositories added and
// removed → resources.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	ch := &relay.LifecycleChange{AccountID: in.AccountID}
	switch in.EventType {
	case "installation.deleted":
		ch.Status, ch.Reason = relay.ConnectionRevoked, "GitHub App uninstalled"
	case "installation.suspend":
		ch.Status, ch.Reason = relay.ConnectionSuspended, "GitHub App installation suspended"
	case "installation.unsuspend":
		ch.Status, ch.Reason = relay.ConnectionActive, "GitHub App installation unsuspended"
	case "installation.new_permissions_accepted":
		ch.Status, ch.Reason = relay.ConnectionActive, "new permissions accepted"
	case "installation_repositories.added", "installation_repositories.removed":
		var pl struct {
			Added   []repo `json:"repositories_added"`
			Removed []repo `json:"repositories_removed"`
		}
		if err := json.Unmarshal(body, &pl); err != nil {
			return nil, false
		}
		for _, r := range pl.Added {
			ch.AddResources = append(ch.AddResources, &relay.Resource{Provider: "github",
				ExternalID: strconv.FormatInt(r.ID, 10), Kind: "repository", Name: r.FullName})
		}
		for _, r := range pl.Removed {
			ch.RemoveResources = append(ch.RemoveResources, strconv.FormatInt(r.ID, 10))
		}
	default:
		return nil, false
	}
	if ch.AccountID == "" {
		return nil, false
	}
	return ch, true
}

type repo struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
}
