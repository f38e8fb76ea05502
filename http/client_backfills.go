package http

import (
	"context"
	"net/http"
	"net/url"

	"github.com/relayhq/relay"
)

// clientBackfillInput is the body of a backfill start.
type clientBackfillInput struct {
	DepthDays   int      `json:"depth_days,omitempty"`
	EntityTypes []string `json:"entity_types,omitempty"`
}

func backfillsPath(connectionID string) string {
	return "/api/v1/connections/" + url.PathEscape(connectionID) + "/backfills"
}

// StartBackfill starts importing the connection's last depthDays (0: the
// server's default) of entityTypes (nil: the server's default). While a run
// with the same parameters is active it returns that run, with created
// false. A bad depth or an unknown entity type is EINVALID (the message
// lists the valid types); a connection that is not active is ECONFLICT.
func (c *Client) StartBackfill(ctx context.Context, connectionID string, depthDays int, entityTypes []string) (b *relay.Backfill, created bool, err error) {
	var out relay.Backfill
	status, err := c.doStatus(ctx, http.MethodPost, backfillsPath(connectionID), nil,
		clientBackfillInput{DepthDays: depthDays, EntityTypes: entityTypes}, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, status == http.StatusCreated, nil
}

// ListBackfills returns the connection's backfills, newest first, without
// their tasks.
func (c *Client) ListBackfills(ctx context.Context, connectionID string) ([]*relay.Backfill, error) {
	var page relay.Page[*relay.Backfill]
	if err := c.do(ctx, http.MethodGet, backfillsPath(connectionID), nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// GetBackfill returns a backfill with its tasks' progress.
func (c *Client) GetBackfill(ctx context.Context, connectionID, backfillID string) (*relay.Backfill, error) {
	var b relay.Backfill
	if err := c.do(ctx, http.MethodGet, backfillsPath(connectionID)+"/"+url.PathEscape(backfillID), nil, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// CancelBackfill cancels a backfill and returns it; a finished one is
// returned unchanged.
func (c *Client) CancelBackfill(ctx context.Context, connectionID, backfillID string) (*relay.Backfill, error) {
	var b relay.Backfill
	if err := c.do(ctx, http.MethodDelete, backfillsPath(connectionID)+"/"+url.PathEscape(backfillID), nil, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}
