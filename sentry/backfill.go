package sentry

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// BackfillEntities returns the entity types Sentry history can be imported
// for: issues, listed per project.
func (c *Connector) BackfillEntities() map[string]string {
	return map[string]string{"issues": "project"}
}

// ListBackfillPage fetches one page of a project's issues last seen at or
// after since: GET /api/0/projects/{org}/{project}/issues/ with
// query=lastSeen:>=… (which also lifts the endpoint's default
// is:unresolved filter, so resolved and ignored issues are listed too),
// sort=date (last seen, newest first) and limit=100. The organization is
// Metadata["org_slug"], else AccountName; the project is r.Name (its slug).
// An item's time is its lastSeen and its event type issue.created,
// issue.resolved or issue.ignored by status. The cursor is the next page's
// URL from Sentry's Link header, only ever followed on the configured API's
// host and the listing's own path; the listing ends when Link says
// results="false".
//
// Items without an id or a readable lastSeen are skipped. Errors are those
// of httpjson.Client.Do, unchanged (EUNAUTHORIZED when Sentry refuses the
// token, EUNAVAILABLE when it fails or rate-limits, with RetryAt when it
// said until when, EINVALID when it refuses the request), and EINVALID for
// an unknown entity, a connection without organization, a missing token or
// project slug, or a cursor that is not a page of this listing.
func (c *Connector) ListBackfillPage(ctx context.Context, conn *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	if entity != "issues" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: backfill: unknown entity type %q", entity)
	}
	const what = "list issues"
	org := conn.Metadata["org_slug"]
	if org == "" {
		org = conn.AccountName
	}
	if org == "" || t == nil || t.AccessToken == "" || r == nil || r.Name == "" {
		return nil, relay.Errorf(relay.EINVALID, "sentry: %s: the connection has no organization or token, or the project no slug", what)
	}
	path := "/api/0/projects/" + url.PathEscape(org) + "/" + url.PathEscape(r.Name) + "/issues/"
	u := c.cfg.APIURL + path + "?" + url.Values{
		"query": {"lastSeen:>=" + since.UTC().Format(time.RFC3339)},
		"sort":  {"date"},
		"limit": {"100"},
	}.Encode()
	if cursor != "" {
		if !c.ownPage(cursor, path) {
			return nil, relay.Errorf(relay.EINVALID, "sentry: %s: the cursor is not a page of this listing", what)
		}
		u = cursor
	}

	var page []json.RawMessage
	resp, err := c.api.Do(ctx, &httpjson.Request{Method: http.MethodGet, URL: u, What: what, Header: c.auth(t), Out: &page})
	if err != nil {
		return nil, err
	}
	out := &relay.BackfillResult{Items: []*relay.BackfillItem{}, RateLimit: resp.RateLimit}
	stop := false
	for _, raw := range page {
		var it struct {
			ID       id  `json:"id"`
			Status   str `json:"status"`
			LastSeen str `json:"lastSeen"`
		}
		if json.Unmarshal(raw, &it) != nil || it.ID == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, string(it.LastSeen))
		if err != nil {
			continue
		}
		if at.Before(since) {
			stop = true // sorted by last seen, newest first: the rest is older
			break
		}
		out.Items = append(out.Items, &relay.BackfillItem{
			DeliveryID: relay.BackfillDeliveryID(entity, string(it.ID), at),
			EventType:  issueEvent(string(it.Status)),
			ResourceID: r.ExternalID,
			UpdatedAt:  at.UTC(),
			Payload:    raw,
		})
	}
	if !stop {
		out.Next = httpjson.NextLink(resp.Header.Get("Link"))
		if out.Next != "" && !c.ownPage(out.Next, path) {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "sentry: %s: the next page is on another host", what)
		}
	}
	return out, nil
}

// issueEvent names the issue webhook action of an issue's status.
func issueEvent(status string) string {
	switch status {
	case "resolved":
		return "issue.resolved"
	case "ignored":
		return "issue.ignored"
	}
	return "issue.created"
}

// ownPage reports whether u is a page of the listing at path (escaped) on
// the configured API: the token is only ever sent there.
func (c *Connector) ownPage(u, path string) bool {
	if !c.sameOrigin(u) {
		return false
	}
	next, err1 := url.Parse(u)
	api, err2 := url.Parse(c.cfg.APIURL)
	return err1 == nil && err2 == nil && next.EscapedPath() == api.EscapedPath()+path
}
