package github

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
	"github.com/tidwall/gjson"
)

// backfillPerPage is GitHub's largest page.
const backfillPerPage = "100"

// BackfillEntities returns the entity types GitHub history can be imported
// for: issues, pull_requests and releases, each listed per repository.
func (c *Connector) BackfillEntities() map[string]string {
	return map[string]string{"issues": "repository", "pull_requests": "repository", "releases": "repository"}
}

// ListBackfillPage fetches one page of a repository's issues, pull requests
// or releases updated at or after since, with the installation token t.
// r.Name is the repository's full name ("owner/repo"), as Resources stores
// it. The cursor is the next page's URL from GitHub's Link header, only
// ever followed on the configured API's host and the listing's own path.
//
//   - issues: GET /repos/{o}/{r}/issues?state=all&sort=updated&direction=asc&since=…,
//     pull requests (the items with a pull_request key) left out; event
//     type issues.opened or issues.closed by state.
//   - pull_requests: GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc
//     (the endpoint has no since), stopping at the first item updated
//     before since; pull_request.opened or pull_request.closed.
//   - releases: GET /repos/{o}/{r}/releases, newest created first; an
//     item's time is published_at (created_at for a draft); release.published
//     or release.created (drafts). The listing stops after a page with a
//     release created before since: a release created before since and
//     published after it is imported only when it is on a page fetched.
//
// Items without an id or a readable time are skipped. Errors are those of
// httpjson.Client.Do, unchanged (EUNAUTHORIZED when GitHub refuses the
// token, EUNAVAILABLE when it fails or rate-limits, with RetryAt when it
// said until when, EINVALID when it refuses the request), and EINVALID for
// an unknown entity, a resource that is not "owner/repo", a missing token
// or a cursor that is not a page of this listing.
func (c *Connector) ListBackfillPage(ctx context.Context, conn *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	var what, endpoint string
	q := url.Values{"per_page": {backfillPerPage}}
	switch entity {
	case "issues":
		what, endpoint = "list issues", "issues"
		q.Set("state", "all")
		q.Set("sort", "updated")
		q.Set("direction", "asc")
		q.Set("since", since.UTC().Format(time.RFC3339))
	case "pull_requests":
		what, endpoint = "list pull requests", "pulls"
		q.Set("state", "all")
		q.Set("sort", "updated")
		q.Set("direction", "desc")
	case "releases":
		what, endpoint = "list releases", "releases"
	default:
		return nil, relay.Errorf(relay.EINVALID, "github: backfill: unknown entity type %q", entity)
	}
	if t == nil || t.AccessToken == "" {
		return nil, relay.Errorf(relay.EINVALID, "github: %s: no installation token", what)
	}
	var owner, name string
	ok := r != nil
	if ok {
		owner, name, ok = strings.Cut(r.Name, "/")
	}
	if !ok || !validName(owner) || !validName(name) {
		return nil, relay.Errorf(relay.EINVALID, "github: %s: the resource is not an owner/repo name", what)
	}
	path := "/repos/" + owner + "/" + name + "/" + endpoint
	u := c.cfg.APIURL + path + "?" + q.Encode()
	if cursor != "" {
		if !c.ownPage(cursor, path) {
			return nil, relay.Errorf(relay.EINVALID, "github: %s: the cursor is not a page of this listing", what)
		}
		u = cursor
	}

	// The page is taken as it came (checked to be JSON) and read with
	// gjson, one pass over each item's top-level fields: decoding the page
	// and then every ~2 KB item with encoding/json to read six fields cost
	// as much CPU as storing the items.
	var body json.RawMessage
	resp, err := c.api.Do(ctx, &httpjson.Request{Method: http.MethodGet, URL: u, What: what, Out: &body,
		Header: http.Header{
			"Authorization":        {"token " + t.AccessToken},
			"Accept":               {"application/vnd.github+json"},
			"X-Github-Api-Version": {"2022-11-28"},
			"User-Agent":           {"relay"},
		}})
	if err != nil {
		return nil, err
	}
	page := gjson.ParseBytes(body)
	if !page.IsArray() && page.Type != gjson.Null {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "github: %s: malformed answer", what)
	}
	out := &relay.BackfillResult{Items: []*relay.BackfillItem{}, RateLimit: resp.RateLimit}
	stop := false
	page.ForEach(func(_, raw gjson.Result) bool {
		it, ok := readBackfillItem(raw)
		if !ok || it.id == "" {
			return true
		}
		var at time.Time
		var event string
		switch entity {
		case "issues":
			if it.pullRequest {
				return true // the issues endpoint lists pull requests too
			}
			at, event = parseTime(it.updatedAt), "issues."+openedOrClosed(it.state)
		case "pull_requests":
			at, event = parseTime(it.updatedAt), "pull_request."+openedOrClosed(it.state)
			if !at.IsZero() && at.Before(since) {
				stop = true // sorted by updated_at, newest first: the rest is older
				return false
			}
		case "releases":
			if it.draft || it.publishedAt == "" {
				at, event = parseTime(it.createdAt), "release.created"
			} else {
				at, event = parseTime(it.publishedAt), "release.published"
			}
			if created := parseTime(it.createdAt); !created.IsZero() && created.Before(since) {
				stop = true // sorted by created_at, newest first
			}
		}
		if at.IsZero() || at.Before(since) {
			return true
		}
		out.Items = append(out.Items, &relay.BackfillItem{
			DeliveryID: relay.BackfillDeliveryID(entity, string(it.id), at),
			EventType:  event,
			ResourceID: r.ExternalID,
			UpdatedAt:  at,
			Payload:    json.RawMessage(raw.Raw),
		})
		return true
	})
	if !stop {
		out.Next = httpjson.NextLink(resp.Header.Get("Link"))
		if out.Next != "" && !c.ownPage(out.Next, path) {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "github: %s: the next page is on another host", what)
		}
	}
	return out, nil
}

// backfillItem is what a listing's item is read for. The fields are as
// lenient as the jsonfield types: a field of an unexpected type reads as
// empty, except draft, which must be a boolean (or null) for the item to
// be read at all.
type backfillItem struct {
	id                                       id
	state, createdAt, updatedAt, publishedAt str
	draft                                    bool
	pullRequest                              bool // the item has a pull_request key
}

// readBackfillItem reads an item's top-level fields in one pass; false when
// the item is not an object or its draft is not a boolean.
func readBackfillItem(raw gjson.Result) (backfillItem, bool) {
	var it backfillItem
	if !raw.IsObject() {
		return it, raw.Type == gjson.Null // null: an item without an id
	}
	ok := true
	text := func(v gjson.Result) str {
		if v.Type != gjson.String {
			return ""
		}
		return str(v.Str)
	}
	raw.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			switch v.Type {
			case gjson.String:
				it.id = id(v.Str)
			case gjson.Number:
				it.id = id(v.Raw)
			default:
				it.id = ""
			}
		case "state":
			it.state = text(v)
		case "created_at":
			it.createdAt = text(v)
		case "updated_at":
			it.updatedAt = text(v)
		case "published_at":
			it.publishedAt = text(v)
		case "draft":
			switch v.Type {
			case gjson.True, gjson.False:
				it.draft = v.Type == gjson.True
			case gjson.Null:
			default:
				ok = false
			}
		case "pull_request":
			it.pullRequest = true
		}
		return true
	})
	return it, ok
}

// ownPage reports whether u is a page of the listing at path on the
// configured API: the installation token is only ever sent there.
func (c *Connector) ownPage(u, path string) bool {
	if _, err := c.sameOrigin(u); err != nil {
		return false
	}
	next, err1 := url.Parse(u)
	api, err2 := url.Parse(c.cfg.APIURL)
	return err1 == nil && err2 == nil && next.Path == api.Path+path
}

// validName reports whether s can be an owner or repository name: GitHub
// allows letters, digits, "-", "_" and ".", so the name needs no escaping
// in a path ("." and ".." are refused, as GitHub does).
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func openedOrClosed(state str) string {
	if state == "open" {
		return "opened"
	}
	return "closed"
}

// parseTime reads a GitHub timestamp (RFC 3339); zero when it is not one.
func parseTime(s str) time.Time {
	t, err := time.Parse(time.RFC3339, string(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
