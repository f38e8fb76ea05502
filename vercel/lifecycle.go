package vercel

import (
	"encoding/json"

	"github.com/relayhq/relay"
)

var _ relay.LifecycleParser = (*Provider)(nil)

// Lifecycle maps integration-configuration.removed to a revoked connection,
// and project.created / project.removed to resources.
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
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"project"`
			} `json:"payload"`
		}
		if json.Unmarshal(body, &pl) != nil || pl.Payload.Project.ID == "" {
			return nil, false
		}
		if in.EventType == "project.created" {
			ch.AddResources = []*relay.Resource{{Provider: "vercel", ExternalID: pl.Payload.Project.ID, Kind: "project", Name: pl.Payload.Project.Name}}
		} else {
			ch.RemoveResources = []string{pl.Payload.Project.ID}
		}
	default:
		return nil, false
	}
	return ch, true
}
