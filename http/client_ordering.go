package http

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/relayhq/relay"
)

// BlockedKeys returns up to limit (1..1000; 0 means 100) ordered keys of
// the destination held back by a failing head delivery, longest blocked
// first. A missing destination is an *relay.Error with code ENOTFOUND.
func (c *Client) BlockedKeys(ctx context.Context, destinationID string, limit int) ([]*relay.BlockedKey, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Items []*relay.BlockedKey `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/destinations/"+url.PathEscape(destinationID)+"/blocked-keys", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}
