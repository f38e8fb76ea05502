package vercel

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// BackfillEntities returns the entity types Vercel history can be imported
// for: deployments, listed per project.
func (c *Connector) BackfillEntities() map[string]string {
	return map[string]string{"deployments": "project"}
}

// ListBackfillPage fetches one page of a project's deployments created at
// or after since: GET /v6/deployments?projectId=…&since=…&limit=100 (since
// in ms, rounded up so that nothing created before since is asked for),
// with ?teamId= for team installs. Vercel lists newest first; the cursor is
// the page's pagination.next (the created time, in ms, of its last
// deployment), passed back as until for the following page, and the listing
// ends when next is null or a deployment created before since is reached.
// A deployment's time is its created and its event type the live webhook's
// for its readyState (state when absent): deployment.succeeded (READY),
// deployment.error (ERROR), deployment.canceled (CANCELED), else
// deployment.created (queued, initializing or building). Deployments
// sharing a created millisecond across a page boundary can be missed: until
// is exclusive, as on Vercel.
//
// Deployments without a uid or a created time are skipped. Errors are those
// of httpjson.Client.Do, unchanged (EUNAUTHORIZED when Vercel refuses the
// token, EUNAVAILABLE when it fails or rate-limits, with RetryAt when it
// said until when, EINVALID when it refuses the request, e.g. a team's
// token without its teamId or a project it does not have), EUNAVAILABLE
// when the next page would not move back in time, and EINVALID for an
// unknown entity, a missing token or project id, or a cursor that is not a
// positive decimal number of ms.
func (c *Connector) ListBackfillPage(ctx context.Context, conn *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	if entity != "deployments" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: backfill: unknown entity type %q", entity)
	}
	const what = "list deployments"
	if t == nil || t.AccessToken == "" || r == nil || r.ExternalID == "" {
		return nil, relay.Errorf(relay.EINVALID, "vercel: %s: no token, or the project has no id", what)
	}
	sinceMS := since.UnixMilli()
	if since.After(time.UnixMilli(sinceMS)) {
		sinceMS++ // created times are whole ms: the first one not before since
	}
	q := url.Values{"projectId": {r.ExternalID}, "since": {strconv.FormatInt(sinceMS, 10)}, "limit": {"100"}}
	var until int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 || strconv.FormatInt(n, 10) != cursor {
			return nil, relay.Errorf(relay.EINVALID, "vercel: %s: the cursor is not a time in ms", what)
		}
		until = n
		q.Set("until", cursor)
	}

	var page struct {
		Deployments []json.RawMessage `json:"deployments"`
		Pagination  struct {
			Next *int64 `json:"next"`
		} `json:"pagination"`
	}
	resp, err := c.api.Do(ctx, &httpjson.Request{Method: http.MethodGet, URL: c.withTeam(conn, c.cfg.APIURL+"/v6/deployments?"+q.Encode()),
		What: what, Header: c.auth(t), Out: &page})
	if err != nil {
		return nil, err
	}
	out := &relay.BackfillResult{Items: []*relay.BackfillItem{}, RateLimit: resp.RateLimit}
	stop := false
	for _, raw := range page.Deployments {
		var d struct {
			UID        str    `json:"uid"`
			Created    *int64 `json:"created"`
			CreatedAt  *int64 `json:"createdAt"`
			State      str    `json:"state"`
			ReadyState str    `json:"readyState"`
		}
		if json.Unmarshal(raw, &d) != nil || d.UID == "" {
			continue
		}
		created := d.Created
		if created == nil {
			created = d.CreatedAt
		}
		if created == nil {
			continue
		}
		at := time.UnixMilli(*created).UTC()
		if at.Before(since) {
			stop = true // newest first: the rest is older
			break
		}
		state := d.ReadyState
		if state == "" {
			state = d.State
		}
		out.Items = append(out.Items, &relay.BackfillItem{
			DeliveryID: relay.BackfillDeliveryID(entity, string(d.UID), at),
			EventType:  deploymentEvent(string(state)),
			ResourceID: r.ExternalID,
			UpdatedAt:  at,
			Payload:    raw,
		})
	}
	if next := page.Pagination.Next; !stop && next != nil && len(page.Deployments) > 0 {
		if cursor != "" && *next >= until {
			// A page that does not move back would be fetched forever.
			return nil, relay.Errorf(relay.EUNAVAILABLE, "vercel: %s: the next page does not move back in time", what)
		}
		out.Next = strconv.FormatInt(*next, 10)
	}
	return out, nil
}

// deploymentEvent names the deployment webhook of a deployment's state.
func deploymentEvent(state string) string {
	switch state {
	case "READY":
		return "deployment.succeeded"
	case "ERROR":
		return "deployment.error"
	case "CANCELED":
		return "deployment.canceled"
	}
	return "deployment.created"
}

// rejectedToken is the httpjson Classify hook that makes the answer Vercel
// gives a token it no longer accepts — 403 with "invalidToken": true, where
// other APIs send 401 — a 401, so that it is EUNAUTHORIZED to a backfill
// (which refreshes the token once) while other 403s, such as a team's token
// without its teamId, stay refusals.
func rejectedToken(status int, body []byte) (int, string) {
	if status != http.StatusForbidden {
		return status, ""
	}
	var e struct {
		Error struct {
			InvalidToken bool `json:"invalidToken"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.InvalidToken {
		return http.StatusUnauthorized, ""
	}
	return status, ""
}
