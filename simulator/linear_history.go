package simulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// linearRateHeaders are Linear's request rate-limit headers (reset in epoch
// seconds, one of the units docs/providers.md lists). Past the limit Linear answers a GraphQL
// RATELIMITED error; the HTTP status it comes with is UNCONFIRMED, and the
// simulator uses 400, the status Linear gives GraphQL errors it refuses,
// so that clients are checked to read the error code and not only 429.
var linearRateHeaders = rateHeaders{limit: "X-RateLimit-Requests-Limit", remaining: "X-RateLimit-Requests-Remaining",
	reset: "X-RateLimit-Requests-Reset", status: http.StatusBadRequest,
	body: `{"data":null,"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}`}

// linearNode is one seeded issue or comment: what the listings filter and
// sort on, and its JSON, rendered once at seed time.
type linearNode struct {
	id                   string
	createdAt, updatedAt time.Time
	json                 json.RawMessage
}

// linearTeamHistory is one team's seeded issues (most recently updated
// first) and comments (most recently created first), and what History
// returns, oldest first.
type linearTeamHistory struct {
	issues, comments       []*linearNode
	issueItems, commentIts []HistoryItem
}

// linearTime is how Linear writes times: ISO 8601 in UTC, milliseconds.
const linearTime = "2006-01-02T15:04:05.000Z"

// SeedHistory generates perResource issues and perResource comments (one
// on each issue) for every team of every workspace, their updatedAt spread
// evenly over [now-span, now) on the simulator's clock at millisecond
// precision. One issue in three was created at its updatedAt and never
// changed since (its webhook would be Issue.create), the others created up
// to three days earlier; comments likewise, one in two.
//
// They are served through the GraphQL endpoint: team(id).issues(first,
// after, orderBy: updatedAt, filter: {updatedAt: {gte}}), most recently
// updated first, and the top-level comments(first, after, filter:
// {updatedAt: {gte}, issue: {team: {id: {eq}}}}), most recently created
// first (Linear's default order, createdAt), both with Relay cursors
// (opaque, base64) and pageInfo{hasNextPage, endCursor}; first is at most
// 250 and defaults to 50. A team of another workspace is "Entity not
// found". Their calls count as list-issues and list-comments (Calls,
// FailNext, RateLimitNext, DelayNext), not as graphql.
//
// SeedHistory replaces earlier history; teams added later have none.
// perResource or span ≤ 0 clears it.
func (l *Linear) SeedHistory(perResource int, span time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.history = map[string]*linearTeamHistory{}
	if perResource <= 0 || span <= 0 {
		return
	}
	now := l.now()
	start, step := now.Add(-span), span/time.Duration(perResource)
	n := 0
	for _, orgID := range slices.Sorted(maps.Keys(l.orgs)) {
		org := l.orgs[orgID]
		for _, team := range org.Teams {
			if l.history[team.ID] != nil {
				continue
			}
			h := &linearTeamHistory{}
			key := cmp.Or(team.Key, "ENG")
			for i := range perResource {
				n++
				updated := start.Add(step * time.Duration(i)).Truncate(time.Millisecond)
				if updated.Before(start) {
					updated = updated.Add(time.Millisecond)
				}
				created := updated
				if i%3 != 0 {
					created = updated.Add(-time.Duration(i%72+1) * time.Hour)
				}
				issueID := fmt.Sprintf("%08x-0000-4000-8000-%012x", n, i)
				ident := key + "-" + strconv.Itoa(i+1)
				url := "https://linear.app/" + cmp.Or(org.URLKey, "acme") + "/issue/" + ident
				state := linearStates[i%len(linearStates)]
				issue := map[string]any{"id": issueID, "identifier": ident, "title": fmt.Sprintf("Imported issue %d", i+1),
					"description": "Seeded by the simulator.", "priority": i % 5, "url": url,
					"createdAt": created.UTC().Format(linearTime), "updatedAt": updated.UTC().Format(linearTime), "archivedAt": nil,
					"state": map[string]string{"id": fmt.Sprintf("state-%d", i%len(linearStates)), "name": state[0], "type": state[1]},
					"team":  map[string]string{"id": team.ID, "key": key}, "assignee": nil}
				if i%2 == 0 {
					issue["assignee"] = map[string]string{"id": "user-1", "name": "Linear User"}
				}
				h.issues = append(h.issues, &linearNode{id: issueID, createdAt: created, updatedAt: updated, json: mustJSON(issue)})
				h.issueItems = append(h.issueItems, HistoryItem{ID: issueID, UpdatedAt: updated})

				cUpdated := updated.Add(step / 2).Truncate(time.Millisecond)
				cCreated := cUpdated
				if i%2 == 1 {
					cCreated = cUpdated.Add(-time.Duration(i%48+1) * time.Minute)
				}
				commentID := fmt.Sprintf("%08x-0000-4000-9000-%012x", n, i)
				comment := map[string]any{"id": commentID, "body": fmt.Sprintf("Comment %d on %s", i+1, ident),
					"url": url + "#comment-" + commentID[:8], "createdAt": cCreated.UTC().Format(linearTime),
					"updatedAt": cUpdated.UTC().Format(linearTime), "issue": map[string]string{"id": issueID, "identifier": ident},
					"user": map[string]string{"id": "user-1", "name": "Linear User"}}
				h.comments = append(h.comments, &linearNode{id: commentID, createdAt: cCreated, updatedAt: cUpdated, json: mustJSON(comment)})
				h.commentIts = append(h.commentIts, HistoryItem{ID: commentID, UpdatedAt: cUpdated})
			}
			desc := func(nodes []*linearNode, key func(*linearNode) time.Time) []*linearNode {
				return slices.SortedStableFunc(slices.Values(nodes), func(a, b *linearNode) int {
					return cmp.Or(key(b).Compare(key(a)), strings.Compare(b.id, a.id))
				})
			}
			h.issues = desc(h.issues, func(n *linearNode) time.Time { return n.updatedAt })
			h.comments = desc(h.comments, func(n *linearNode) time.Time { return n.createdAt })
			l.history[team.ID] = h
		}
	}
}

// linearStates are workflow states as (name, type).
var linearStates = [][2]string{{"Todo", "unstarted"}, {"In Progress", "started"}, {"Done", "completed"}, {"Canceled", "canceled"}, {"Backlog", "backlog"}}

// History returns what SeedHistory generated for the team with id
// resourceID and entity "issues" or "comments", oldest first: the ids and
// updatedAt. It is nil for anything else.
func (l *Linear) History(resourceID, entity string) []HistoryItem {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.history[resourceID]
	switch {
	case h == nil:
		return nil
	case entity == "issues":
		return slices.Clone(h.issueItems)
	case entity == "comments":
		return slices.Clone(h.commentIts)
	}
	return nil
}

// historyOp names a backfill listing query by its root field, "" for other
// operations.
func historyOp(query string) string {
	switch {
	case strings.Contains(query, "comments("):
		return "list-comments"
	case strings.Contains(query, "issues("):
		return "list-issues"
	}
	return ""
}

// linearListVars are the variables of the listing queries.
type linearListVars struct {
	Team  string  `json:"team"`
	First *int    `json:"first"`
	After *string `json:"after"`
	Since string  `json:"since"`
}

// listHistory answers a listing query for the workspace orgID. It runs
// with l.mu held.
func (l *Linear) listHistory(w http.ResponseWriter, op, query string, raw json.RawMessage, orgID string) {
	var v linearListVars
	if len(raw) > 0 && json.Unmarshal(raw, &v) != nil {
		gqlError(w, http.StatusOK, "Variable types do not match", "BAD_USER_INPUT")
		return
	}
	org := l.orgs[orgID]
	teamOK := false
	for _, t := range org.Teams {
		teamOK = teamOK || t.ID == v.Team
	}
	// The comments query must filter on the team, or it would list the
	// whole workspace's comments.
	if op == "list-comments" && !strings.Contains(query, "team: {id: {eq: $team}}") {
		gqlError(w, http.StatusOK, "the simulator serves comments filtered on their issue's team only", "GRAPHQL_VALIDATION_FAILED")
		return
	}
	if !teamOK {
		gqlError(w, http.StatusOK, "Entity not found: Team", "INVALID_INPUT")
		return
	}
	first := 50
	if v.First != nil {
		first = *v.First
	}
	if first < 1 || first > 250 {
		gqlError(w, http.StatusOK, "Argument Validation Error: first must be between 1 and 250", "INVALID_INPUT")
		return
	}
	since := time.Time{}
	if v.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, v.Since)
		if err != nil {
			gqlError(w, http.StatusOK, "Argument Validation Error: invalid DateTimeOrDuration", "INVALID_INPUT")
			return
		}
		since = t
	}
	var nodes []*linearNode
	if h := l.history[v.Team]; h != nil {
		nodes = h.issues
		if op == "list-comments" {
			nodes = h.comments
		}
	}
	match := make([]*linearNode, 0, len(nodes))
	for _, n := range nodes {
		if !n.updatedAt.Before(since) {
			match = append(match, n)
		}
	}
	start := 0
	if v.After != nil {
		id, err := base64.StdEncoding.DecodeString(*v.After)
		pos := slices.IndexFunc(match, func(n *linearNode) bool { return n.id == string(id) })
		if err != nil || pos < 0 {
			gqlError(w, http.StatusOK, "Invalid cursor", "INVALID_INPUT")
			return
		}
		start = pos + 1
	}
	end := min(start+first, len(match))
	page := make([]json.RawMessage, 0, end-start)
	for _, n := range match[start:end] {
		page = append(page, n.json)
	}
	var endCursor any
	if end > start {
		endCursor = base64.StdEncoding.EncodeToString([]byte(match[end-1].id))
	}
	conn := map[string]any{"nodes": page, "pageInfo": map[string]any{"hasNextPage": end < len(match), "endCursor": endCursor}}
	data := map[string]any{"comments": conn}
	if op == "list-issues" {
		data = map[string]any{"team": map[string]any{"issues": conn}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
