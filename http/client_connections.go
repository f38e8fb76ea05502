package http

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/relayhq/relay"
)

// CreateOrg creates an org (admin key). ECONFLICT when the id exists.
func (c *Client) CreateOrg(ctx context.Context, id, name string) (*relay.Org, error) {
	var o relay.Org
	if err := c.do(ctx, http.MethodPost, "/api/v1/orgs", nil, map[string]string{"id": id, "name": name}, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ListOrgs returns every org (admin key).
func (c *Client) ListOrgs(ctx context.Context) ([]*relay.Org, error) {
	var page relay.Page[*relay.Org]
	if err := c.do(ctx, http.MethodGet, "/api/v1/orgs", nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// GetOrg returns an org (ENOTFOUND, also for another org's key).
func (c *Client) GetOrg(ctx context.Context, id string) (*relay.Org, error) {
	var o relay.Org
	if err := c.do(ctx, http.MethodGet, "/api/v1/orgs/"+url.PathEscape(id), nil, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateOrgAPIKey creates an API key scoped to org and returns it with its
// secret, which the API shows only this once.
func (c *Client) CreateOrgAPIKey(ctx context.Context, org, name string) (*relay.APIKey, string, error) {
	var out struct {
		relay.APIKey
		Key string `json:"key"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/orgs/"+url.PathEscape(org)+"/api-keys", nil, map[string]string{"name": name}, &out); err != nil {
		return nil, "", err
	}
	return &out.APIKey, out.Key, nil
}

// AuthorizeConnection starts a connect flow and returns the URL to send the
// user to and when the flow expires.
func (c *Client) AuthorizeConnection(ctx context.Context, org, provider, returnURL string) (string, time.Time, error) {
	var out struct {
		AuthorizeURL string    `json:"authorize_url"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/orgs/"+url.PathEscape(org)+"/connections/"+url.PathEscape(provider)+"/authorize",
		nil, map[string]string{"return_url": returnURL}, &out); err != nil {
		return "", time.Time{}, err
	}
	return out.AuthorizeURL, out.ExpiresAt, nil
}

// ListConnections returns connections (an org key sees only its org's).
func (c *Client) ListConnections(ctx context.Context, f relay.ConnectionFilter) ([]*relay.Connection, error) {
	q := url.Values{}
	clientSet(q, "provider", f.Provider)
	clientSet(q, "org_id", f.OrgID)
	if f.IncludeDeleted {
		q.Set("include_deleted", "true")
	}
	var page relay.Page[*relay.Connection]
	if err := c.do(ctx, http.MethodGet, "/api/v1/connections", q, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// GetConnection returns a connection and its live resources.
func (c *Client) GetConnection(ctx context.Context, id string) (*relay.Connection, []*relay.Resource, error) {
	var out struct {
		relay.Connection
		Resources []*relay.Resource `json:"resources"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/connections/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, nil, err
	}
	return &out.Connection, out.Resources, nil
}

// DeleteConnection starts the connection's teardown and returns it; its
// Teardown field shows the progress.
func (c *Client) DeleteConnection(ctx context.Context, id string) (*relay.Connection, error) {
	var conn relay.Connection
	if err := c.do(ctx, http.MethodDelete, "/api/v1/connections/"+url.PathEscape(id), nil, nil, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// ConnectionToken returns a usable access token for the connection.
func (c *Client) ConnectionToken(ctx context.Context, id string) (*relay.Token, error) {
	var t relay.Token
	if err := c.do(ctx, http.MethodGet, "/api/v1/connections/"+url.PathEscape(id)+"/token", nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
