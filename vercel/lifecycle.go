package vercel

import (
	"encoding/json"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps integration-configuration.removed to a revoked connection,
// and project.created / project.removed to a project added to or removed
// from the connection (payload.project.id). The account is in.AccountID,
// which Parse took from payload.team.id, else payload.user.id — the same
// id the connector stores as the connection's ExternalID. Any other event,
// or one naming no account or project, is not a lifecycle event.
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	if in.AccountID == "" {
		return nil, false
	}
	ch := &relay.LifecycleChange{AccountID: in.AccountID}
	switch in.EventType {
	case "integration-configuration.removed":
		ch.Status, ch.Reason = relay.ConnectionRevoked, "Vercel integration removed"
	case "project.created", "project.removed":
		var pl struct {
			Payload struct {
				Project struct {
					ID   id  `json:"id"`
					Name str `json:"name"`
				} `json:"project"`
			} `json:"payload"`
		}
		if json.Unmarshal(body, &pl) != nil || pl.Payload.Project.ID == "" {
			return nil, false
		}
		pid := string(pl.Payload.Project.ID)
		if in.EventType == "project.created" {
			ch.AddResources = []*relay.Resource{{Provider: "vercel", ExternalID: pid, Kind: "project", Name: string(pl.Payload.Project.Name)}}
		} else {
			ch.RemoveResources = []string{pid}
		}
	default:
		return nil, false
	}
	return ch, true
}
