package sentry

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

// Lifecycle maps installation.deleted (the organization uninstalled the
// integration) to a revoked connection. The account is the installation
// uuid (in.AccountID, which Parse took from installation.uuid; read from
// the body when empty) — the ExternalID the connector gives the connection.
// installation.created is not a change (the connect flow creates the
// connection); neither is any other event, or one naming no installation.
//
// The resource comes from Sentry-Hook-Resource, which is not signed, so
// the body must have an installation event's shape (installationShape): a
// signed body of another resource re-sent as "installation" is not an
// uninstall. Even then it is only a claim, which the connections service
// confirms with Sentry (ConfirmLifecycle).
func (p *Provider) Lifecycle(in relay.Inbound, body []byte) (*relay.LifecycleChange, bool) {
	if in.EventType != "installation.deleted" || !installationShape(body) {
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

// otherResources are the data objects of Sentry's other webhook
// resources; an installation event's data holds only the installation.
var otherResources = []string{"issue", "event", "error", "comment", "metric_alert", "triggered_rule", "description_text"}

// installationShape reports whether body looks like an installation
// event: data.installation is an object, and data holds no other
// resource's object.
func installationShape(body []byte) bool {
	var pl struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &pl) != nil {
		return false
	}
	if inst := pl.Data["installation"]; len(inst) == 0 || inst[0] != '{' {
		return false
	}
	for _, k := range otherResources {
		if _, ok := pl.Data[k]; ok {
			return false
		}
	}
	return true
}

// ConfirmLifecycle confirms an uninstall by reading the installation (GET
// /api/0/sentry-app-installations/{uuid}/) with its token: 404, or 401 for
// a token that has not expired (Sentry deletes an installation's tokens
// with it), means uninstalled (revoked); an answer means it is still
// installed, and nothing changes (Status ""). Any other claim changes
// nothing: Sentry's lifecycle webhooks announce only uninstalls.
//
// A refusal of an expired token says nothing about the installation: it
// is EUNAVAILABLE (ask again once the token is refreshed), as are Sentry's
// failures. EINVALID when the connection holds no token or Sentry refuses
// otherwise.
func (c *Connector) ConfirmLifecycle(ctx context.Context, conn *relay.Connection, t *relay.Token, ch *relay.LifecycleChange) (*relay.LifecycleChange, error) {
	out := &relay.LifecycleChange{AccountID: conn.ExternalID}
	if ch.Status != relay.ConnectionRevoked {
		return out, nil
	}
	if t == nil || t.AccessToken == "" || conn.ExternalID == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: read installation: the connection has no token")
	}
	resp, err := c.flow.Call(ctx, "read installation", http.MethodGet,
		c.cfg.APIURL+"/api/0/sentry-app-installations/"+url.PathEscape(conn.ExternalID)+"/", c.auth(t), nil, nil)
	live := t.ExpiresAt.IsZero() || c.cfg.Now().Before(t.ExpiresAt)
	switch code := httpjson.Code(resp); {
	case err == nil:
		return out, nil
	case code == http.StatusNotFound, code == http.StatusUnauthorized && live:
		out.Status, out.Reason = relay.ConnectionRevoked, "integration uninstalled (confirmed with Sentry)"
		return out, nil
	case code == http.StatusUnauthorized:
		return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: read installation: the token has expired; cannot confirm the uninstall yet")
	}
	return nil, err
}
