package vercel

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

var (
	_ relay.LifecycleParser    = (*Provider)(nil)
	_ relay.LifecycleConfirmer = (*Connector)(nil)
)

// Lifecycle maps integration-configuration.removed to a revoked connection,
// and project.created / project.removed to a project added to or removed
// from the connection (payload.project.id). The account is in.AccountID,
// which Parse took from payload.team.id, else payload.user.id — the same
// id the connector stores as the connection's ExternalID. Any other event,
// or one naming no account or project, is not a lifecycle event. The
// change is only a claim, which the connections service confirms with
// Vercel (ConfirmLifecycle).
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

// ConfirmLifecycle asks Vercel. A removal is confirmed by reading the
// configuration (GET /v1/integrations/configuration/{configuration_id}):
// 404, or the token refused (401, 403: removing the configuration ends its
// token), means removed (revoked); an answer means it is still installed,
// and nothing changes (Status ""). Project changes are answered with the
// account's projects as Vercel lists them (Resources), not the webhook's.
// EUNAVAILABLE when Vercel fails, EINVALID when the connection has no
// configuration id or token, or Vercel refuses otherwise.
func (c *Connector) ConfirmLifecycle(ctx context.Context, conn *relay.Connection, t *relay.Token, ch *relay.LifecycleChange) (*relay.LifecycleChange, error) {
	out := &relay.LifecycleChange{AccountID: conn.ExternalID}
	if t == nil || t.AccessToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: confirm: the connection has no token")
	}
	if ch.Status == relay.ConnectionRevoked {
		id := conn.Metadata["configuration_id"]
		if id == "" {
			return nil, relay.Errorf(relay.EINVALID, "vercel: read configuration: the connection has no configuration id")
		}
		resp, err := c.flow.Call(ctx, "read configuration", http.MethodGet,
			c.withTeam(conn, c.cfg.APIURL+"/v1/integrations/configuration/"+url.PathEscape(id)), c.auth(t), nil, nil)
		switch httpjson.Code(resp) {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			out.Status, out.Reason = relay.ConnectionRevoked, "Vercel integration removed (confirmed with Vercel)"
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if len(ch.AddResources) > 0 || len(ch.RemoveResources) > 0 {
		res, err := c.Resources(ctx, conn, t)
		if err != nil {
			return nil, err
		}
		if res == nil {
			res = []*relay.Resource{}
		}
		out.Resources = res
	}
	return out, nil
}
