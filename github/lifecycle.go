package github

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

var (
	_ relay.LifecycleParser    = (*Provider)(nil)
	_ relay.LifecycleConfirmer = (*Connector)(nil)
)

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
//
// X-GitHub-Event is not signed, so the body must have the claimed event's
// shape (see lifecycleShape): a captured body of another event re-sent
// under an installation event's name is not a change. Even a well-formed
// change is only a claim: the connections service applies what GitHub
// confirms (ConfirmLifecycle).
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
	if err := json.Unmarshal(body, &pl); err != nil || !lifecycleShape(in.EventType, body) {
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

// otherEventKeys are top-level fields that name another event's subject:
// an installation or installation_repositories body never has them.
var otherEventKeys = []string{"issue", "pull_request", "comment", "review", "release", "commits", "ref",
	"check_run", "check_suite", "workflow_run", "workflow_job", "deployment", "deployment_status",
	"discussion", "label", "milestone", "alert", "package"}

// lifecycleShape reports whether body looks like the event it is claimed
// to be. The test that tells an installation event from any other App
// event is its installation object: the whole installation (with account
// and app_id) rather than the {id, node_id} other events carry.
// installation_repositories also lists repositories_added and
// repositories_removed.
func lifecycleShape(eventType string, body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	for _, k := range otherEventKeys {
		if _, ok := top[k]; ok {
			return false
		}
	}
	var inst map[string]json.RawMessage
	if json.Unmarshal(top["installation"], &inst) != nil || !isObject(inst["account"]) || len(inst["app_id"]) == 0 {
		return false
	}
	if strings.HasPrefix(eventType, "installation_repositories.") {
		return isArray(top["repositories_added"]) && isArray(top["repositories_removed"])
	}
	return true
}

func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
func isArray(raw json.RawMessage) bool  { return len(raw) > 0 && raw[0] == '[' }

// ConfirmLifecycle asks GitHub about the connection's installation, with
// an App JWT: GET /app/installations/{id} answering 404 means it was
// deleted (revoked), suspended_at set means suspended, else active — the
// status returned whatever ch claims. When ch claims repository changes
// and the installation is active, Resources is the installation's
// repositories as GitHub lists them (with t when it is live, else with a
// newly minted installation token), not the webhook's. It returns
// EUNAVAILABLE when GitHub fails or cannot be reached, EINVALID when it
// refuses the App (a bad JWT or key).
func (c *Connector) ConfirmLifecycle(ctx context.Context, conn *relay.Connection, t *relay.Token, ch *relay.LifecycleChange) (*relay.LifecycleChange, error) {
	if !validID(conn.ExternalID) {
		return nil, relay.Errorf(relay.EINVALID, "github: get installation: the connection has no installation id")
	}
	out := &relay.LifecycleChange{AccountID: conn.ExternalID}
	var inst struct {
		SuspendedAt *string `json:"suspended_at"`
	}
	found, err := c.installation(ctx, conn.ExternalID, &inst)
	switch {
	case err != nil:
		return nil, err
	case !found:
		out.Status, out.Reason = relay.ConnectionRevoked, "installation deleted"
		return out, nil
	case inst.SuspendedAt != nil && *inst.SuspendedAt != "":
		out.Status, out.Reason = relay.ConnectionSuspended, "installation suspended"
		return out, nil
	}
	out.Status, out.Reason = relay.ConnectionActive, "installation active"
	if len(ch.AddResources) == 0 && len(ch.RemoveResources) == 0 {
		return out, nil
	}
	if t == nil || t.AccessToken == "" || (!t.ExpiresAt.IsZero() && !c.cfg.Now().Add(time.Minute).Before(t.ExpiresAt)) {
		if t, err = c.mint(ctx, conn.ExternalID); err != nil {
			return nil, err
		}
	}
	res, err := c.Resources(ctx, conn, t)
	if relay.ErrorCode(err) == relay.EINVALID {
		// The token was refused (revoked meanwhile): a fresh one decides.
		if t, err = c.mint(ctx, conn.ExternalID); err == nil {
			res, err = c.Resources(ctx, conn, t)
		}
	}
	if err != nil {
		return nil, err
	}
	out.Resources = res
	return out, nil
}

// installation reads the installation with an App JWT into out; found is
// false when GitHub answers 404.
func (c *Connector) installation(ctx context.Context, id string, out any) (found bool, err error) {
	token, err := c.AppJWT()
	if err != nil {
		return false, relay.Errorf(relay.EINTERNAL, "github: get installation: the App JWT could not be signed")
	}
	resp, err := c.call(ctx, "get installation", http.MethodGet, c.cfg.APIURL+"/app/installations/"+id, "Bearer "+token, out)
	if httpjson.Code(resp) == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}
