package linear

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// backfillPageSize is how many nodes a backfill page asks for (Linear's
// default is 50).
const backfillPageSize = 100

// The backfill queries. Issues are listed per team, most recently updated
// first; comments through the top-level connection filtered on their
// issue's team. Both filter on updatedAt server-side and ask for the same
// fields the payloads carry.
const (
	issuesQuery = `query BackfillIssues($team: String!, $first: Int!, $after: String, $since: DateTimeOrDuration!) {
  team(id: $team) {
    issues(first: $first, after: $after, orderBy: updatedAt, filter: {updatedAt: {gte: $since}}) {
      nodes { id identifier title description priority url createdAt updatedAt archivedAt state { id name type } team { id key } assignee { id name } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`
	commentsQuery = `query BackfillComments($team: ID!, $first: Int!, $after: String, $since: DateTimeOrDuration!) {
  comments(first: $first, after: $after, filter: {updatedAt: {gte: $since}, issue: {team: {id: {eq: $team}}}}) {
    nodes { id body url createdAt updatedAt issue { id identifier } user { id name } }
    pageInfo { hasNextPage endCursor }
  }
}`
)

// connection is a GraphQL Relay-style connection as the backfill queries
// read it: the nodes stay raw, to become payloads unchanged.
type connection struct {
	Nodes    []json.RawMessage `json:"nodes"`
	PageInfo struct {
		HasNextPage bool   `json:"hasNextPage"`
		EndCursor   string `json:"endCursor"`
	} `json:"pageInfo"`
}

// gqlErrors is the error list of a GraphQL answer.
type gqlErrors struct {
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// BackfillEntities returns the entity types Linear history can be imported
// for: issues and comments, both listed per team.
func (c *Connector) BackfillEntities() map[string]string {
	return map[string]string{"issues": "team", "comments": "team"}
}

// ListBackfillPage fetches one page (100 nodes) of a team's issues or
// comments updated at or after since, with one GraphQL query to
// {APIURL}/graphql: team(id).issues ordered by updatedAt, or the top-level
// comments filtered on their issue's team, both filtered on updatedAt. The
// cursor is the connection's endCursor; Next is "" once hasNextPage is
// false. An item's payload is the node as Linear sent it, its event type
// Issue.create (created and never updated since) or Issue.update, and
// Comment.create or Comment.update likewise.
//
// Nodes without an id or a readable updatedAt are skipped. Errors are those
// of httpjson.Client.Do, unchanged, with GraphQL errors read by
// graphQLStatus (EUNAUTHORIZED when Linear refuses the token,
// AUTHENTICATION_ERROR included; EUNAVAILABLE when it fails or
// rate-limits, RATELIMITED and INTERNAL_SERVER_ERROR included, with
// RetryAt when it said until when; EINVALID when it refuses the request).
// EINVALID too for an unknown entity, a missing token or team, or a team
// Linear does not return.
func (c *Connector) ListBackfillPage(ctx context.Context, conn *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	var query, what, typ string
	switch entity {
	case "issues":
		query, what, typ = issuesQuery, "list issues", "Issue"
	case "comments":
		query, what, typ = commentsQuery, "list comments", "Comment"
	default:
		return nil, relay.Errorf(relay.EINVALID, "linear: backfill: unknown entity type %q", entity)
	}
	if t == nil || t.AccessToken == "" || r == nil || r.ExternalID == "" {
		return nil, relay.Errorf(relay.EINVALID, "linear: %s: the connection has no token or the resource no team id", what)
	}
	vars := map[string]any{"team": r.ExternalID, "first": backfillPageSize,
		"since": since.UTC().Format("2006-01-02T15:04:05.000Z")}
	if cursor != "" {
		vars["after"] = cursor
	}
	var answer struct {
		Data *struct {
			Team *struct {
				Issues connection `json:"issues"`
			} `json:"team"`
			Comments *connection `json:"comments"`
		} `json:"data"`
	}
	resp, err := c.api.Do(ctx, &httpjson.Request{Method: http.MethodPost, URL: c.cfg.APIURL + "/graphql", What: what,
		Header: http.Header{"Authorization": {"Bearer " + t.AccessToken}},
		Body:   map[string]any{"query": query, "variables": vars}, Out: &answer})
	if err != nil {
		return nil, err
	}
	var page *connection
	switch {
	case answer.Data == nil:
		return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed answer", what)
	case entity == "issues" && answer.Data.Team == nil:
		return nil, relay.Errorf(relay.EINVALID, "linear: %s: team not found", what)
	case entity == "issues":
		page = &answer.Data.Team.Issues
	case answer.Data.Comments == nil:
		return nil, relay.Errorf(relay.EUNAVAILABLE, "linear: %s: malformed answer", what)
	default:
		page = answer.Data.Comments
	}

	out := &relay.BackfillResult{Items: []*relay.BackfillItem{}, RateLimit: resp.RateLimit}
	for _, raw := range page.Nodes {
		var n struct {
			ID        id  `json:"id"`
			CreatedAt str `json:"createdAt"`
			UpdatedAt str `json:"updatedAt"`
		}
		if json.Unmarshal(raw, &n) != nil || n.ID == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, string(n.UpdatedAt))
		if err != nil || at.Before(since) {
			continue
		}
		event := typ + ".update"
		if created, err := time.Parse(time.RFC3339Nano, string(n.CreatedAt)); err == nil && created.Equal(at) {
			event = typ + ".create"
		}
		out.Items = append(out.Items, &relay.BackfillItem{
			DeliveryID: relay.BackfillDeliveryID(entity, string(n.ID), at),
			EventType:  event,
			ResourceID: r.ExternalID,
			UpdatedAt:  at.UTC(),
			Payload:    raw,
		})
	}
	// An end cursor that does not move would fetch the same page forever.
	if page.PageInfo.HasNextPage && page.PageInfo.EndCursor != "" && page.PageInfo.EndCursor != cursor {
		out.Next = page.PageInfo.EndCursor
	}
	return out, nil
}

// rateLimit reads X-RateLimit-Requests-Limit, -Remaining and -Reset.
// The reset's unit is UNCONFIRMED (docs/providers.md): epoch seconds, or
// epoch milliseconds as Linear's documentation also gives it, so a value
// past 1e11 (the year 5138 in seconds) is read as milliseconds.
func rateLimit(h http.Header, now time.Time) relay.RateLimit {
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Requests-Remaining"))
	if err != nil {
		return relay.RateLimit{}
	}
	rl := relay.RateLimit{Known: true, Remaining: rem}
	rl.Limit, _ = strconv.Atoi(h.Get("X-RateLimit-Requests-Limit"))
	if v, err := strconv.ParseFloat(h.Get("X-RateLimit-Requests-Reset"), 64); err == nil && v > 0 {
		if v > 1e11 {
			rl.Reset = time.UnixMilli(int64(v))
		} else {
			rl.Reset = time.Unix(0, int64(v*1e9))
		}
	}
	return rl
}

// graphQLStatus is the httpjson Classify hook for Linear's answers, which
// report errors as GraphQL errors in the body, with a status that is
// UNCONFIRMED (200 and 400 are both reported): it returns the status the
// first error stands for, so that the one status mapping reads it. A rate
// limit (RATELIMITED) is a 429, waited for rather than refused; a refused
// token (AUTHENTICATION_ERROR) a 401, so that the token is refreshed;
// Linear's internal error a 503; "Entity not found" a 404, so that a
// deletion can tell it; any other error a refusal (400, or the status it
// came with). The detail is Linear's message and code, never the token.
func graphQLStatus(status int, body []byte) (int, string) {
	var answer gqlErrors
	if status == http.StatusTooManyRequests || status == http.StatusUnauthorized || status >= 500 ||
		json.Unmarshal(body, &answer) != nil || len(answer.Errors) == 0 {
		return status, ""
	}
	e := answer.Errors[0]
	detail := truncate(e.Message, 200)
	if e.Extensions.Code != "" {
		detail += " (" + truncate(e.Extensions.Code, 40) + ")"
	}
	for _, e := range answer.Errors {
		switch e.Extensions.Code {
		case "RATELIMITED":
			return http.StatusTooManyRequests, detail
		case "AUTHENTICATION_ERROR":
			return http.StatusUnauthorized, detail
		}
	}
	switch {
	case e.Extensions.Code == "INTERNAL_SERVER_ERROR":
		return http.StatusServiceUnavailable, detail
	case e.Extensions.Code == "NOT_FOUND" || e.Extensions.Code == "ENTITY_NOT_FOUND" ||
		strings.Contains(strings.ToLower(e.Message), "not found"):
		// Linear has no documented code for it: its message is "Entity not
		// found: …", so the message is what is checked.
		return http.StatusNotFound, detail
	case status/100 == 2:
		return http.StatusBadRequest, detail
	}
	return status, detail
}
