package github

import (
	"encoding/json"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps the App's installation webhooks (event types as Parse
// forms them, "<X-GitHub-Event>.<action>") to connection changes:
//
//   - installation.deleted → revoked ("installation deleted")
//   - installation.suspend → suspended
//   - installation.unsuspend, installation.new_permissions_accepted → active
//   - installation_repositories.added / .removed → the repositories in
//     repositories_added / repositories_removed added to or removed from the
//     connection (Kind "repository", ExternalID the repository id)
//
// The account is the installation id (in.AccountID, which Parse took from
// installation.id; read from the body when empty) — the ExternalID the
// connector gives the connection. installation.created is not a change
// (the connect flow creates the connection); neither is any other event,
// a body that is not JSON, one naming no installation, or a repositories
// event that lists none.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	var pl struct {
		Installation struct {
			ID id `json:"id"`
		} `json:"installation"`
		Added   []repo `json:"repositories_added"`
		Removed []repo `json:"repositories_removed"`
	}
	switch in.EventType {
	case "installation.deleted", "installation.suspend", "installation.unsuspend", "installation.new_permissions_accepted",
		"installation_repositories.added", "installation_repositories.removed":
	default:
		return nil, false
	}
	if err := json.Unmarshal(body, &pl); err != nil {
		return nil, false
	}
	ch := &relay.LifecycleChange{AccountID: in.AccountID}
	if ch.AccountID == "" {
		ch.AccountID = string(pl.Installation.ID)
	}
	if ch.AccountID == "" {
		return nil, false
	}
	switch in.EventType {
	case "installation.deleted":
		ch.Status, ch.Reason = relay.ConnectionRevoked, "installation deleted"
	case "installation.suspend":
		ch.Status, ch.Reason = relay.ConnectionSuspended, "installation suspended"
	case "installation.unsuspend":
		ch.Status, ch.Reason = relay.ConnectionActive, "installation unsuspended"
	case "installation.new_permissions_accepted":
		ch.Status, ch.Reason = relay.ConnectionActive, "new permissions accepted"
	default: // installation_repositories.added / .removed
		for _, r := range pl.Added {
			if r.ID != "" {
				ch.AddResources = append(ch.AddResources, r.resource())
			}
		}
		for _, r := range pl.Removed {
			if r.ID != "" {
				ch.RemoveResources = append(ch.RemoveResources, string(r.ID))
			}
		}
		if len(ch.AddResources) == 0 && len(ch.RemoveResources) == 0 {
			return nil, false
		}
	}
	return ch, true
}

// repo is a repository as GitHub's installation APIs and webhooks list it.
type repo struct {
	ID       id  `json:"id"`
	FullName str `json:"full_name"`
}

func (r repo) resource() *relay.Resource {
	return &relay.Resource{Provider: "github", ExternalID: string(r.ID), Kind: "repository", Name: string(r.FullName)}
}
