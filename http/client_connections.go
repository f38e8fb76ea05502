package http

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/relayhq/relay"
)

// The client side of the orgs, org API keys and connections endpoints
// (routes.go). Like the other Client methods, they return the server's
// errors as *relay.Error; when the server runs without connections enabled
// every one of these endpoints is ENOTFOUND.

// clientOrgInput is the body of an org create: the settable fields only,
// since the server rejects unknown ones (created_at).
type clientOrgInput struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// CreateOrg creates the org id (your app's own id for the tenant) with a
// display name, which may be "", and returns it. It needs an admin key
// (else EFORBIDDEN); an invalid id is EINVALID, an existing one ECONFLICT.
func (c *Client) CreateOrg(ctx context.Context, id, name string) (*relay.Org, error) {
	var o relay.Org
	if err := c.do(ctx, http.MethodPost, "/api/v1/orgs", nil, clientOrgInput{ID: id, Name: name}, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ListOrgs returns every org, by id. It needs an admin key (else
// EFORBIDDEN).
func (c *Client) ListOrgs(ctx context.Context) ([]*relay.Org, error) {
	var page relay.Page[*relay.Org]
	if err := c.do(ctx, http.MethodGet, "/api/v1/orgs", nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// GetOrg returns the org. An unknown org is ENOTFOUND, and so is another
// org's when the key is scoped to an org.
func (c *Client) GetOrg(ctx context.Context, id string) (*relay.Org, error) {
	var o relay.Org
	if err := c.do(ctx, http.MethodGet, "/api/v1/orgs/"+url.PathEscape(id), nil, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// clientAPIKeyInput is the body of an API key create.
type clientAPIKeyInput struct {
	Name string `json:"name,omitempty"`
}

// CreateOrgAPIKey creates an API key scoped to org and returns it with its
// secret ("rk_…"), which the server shows only in this answer and keeps
// only hashed. name may be "" (the server names the key after the org). It
// needs an admin key (else EFORBIDDEN); an unknown org is ENOTFOUND.
func (c *Client) CreateOrgAPIKey(ctx context.Context, org, name string) (key *relay.APIKey, secret string, err error) {
	var out struct {
		relay.APIKey
		Key string `json:"key"`
	}
	path := "/api/v1/orgs/" + url.PathEscape(org) + "/api-keys"
	if err := c.do(ctx, http.MethodPost, path, nil, clientAPIKeyInput{Name: name}, &out); err != nil {
		return nil, "", err
	}
	return &out.APIKey, out.Key, nil
}

// AuthorizeConnection starts a connect flow of org with provider ("github",
// "linear", "sentry", "vercel") and returns the provider's URL to send the
// user's browser to, and when the flow expires. After consent the browser
// comes back to returnURL with connection_id and status (or error) in its
// query. An unknown org (or another org's, for an org key) and a provider
// without a configured connect flow are ENOTFOUND; a returnURL that is not
// an absolute http(s) URL is EINVALID.
func (c *Client) AuthorizeConnection(ctx context.Context, org, provider, returnURL string) (authorizeURL string, expiresAt time.Time, err error) {
	in := struct {
		ReturnURL string `json:"return_url"`
	}{returnURL}
	var out struct {
		AuthorizeURL string    `json:"authorize_url"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	path := "/api/v1/orgs/" + url.PathEscape(org) + "/connections/" + url.PathEscape(provider) + "/authorize"
	if err := c.do(ctx, http.MethodPost, path, nil, in, &out); err != nil {
		return "", time.Time{}, err
	}
	return out.AuthorizeURL, out.ExpiresAt, nil
}

// ListConnections returns the connections matching f, by id: f.OrgID and
// f.Provider narrow the list, f.IncludeDeleted adds the torn-down ones. An
// org-scoped key sees only its org's, whatever f.OrgID says.
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

// GetConnection returns the connection, torn-down ones included, and its
// live resources. An unknown id is ENOTFOUND, and so is another org's
// connection when the key is scoped to an org.
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

// DeleteConnection starts tearing the connection down (provider webhooks
// removed, token revoked, connection and resources soft-deleted) and
// returns it at once: its Teardown field says how far the teardown is, and
// GetConnection follows it. Deleting a connection already torn down returns
// it unchanged. An unknown id is ENOTFOUND, as for GetConnection.
func (c *Client) DeleteConnection(ctx context.Context, id string) (*relay.Connection, error) {
	var conn relay.Connection
	if err := c.do(ctx, http.MethodDelete, "/api/v1/connections/"+url.PathEscape(id), nil, nil, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// ConnectionToken returns a usable access token of the connection (Relay
// refreshes it first when it is about to expire); ExpiresAt is zero when it
// does not expire, and RefreshToken is never sent. A connection that is not
// active is ECONFLICT; an unknown one, or one that holds no token,
// ENOTFOUND; a provider failing to refresh it, EUNAVAILABLE.
func (c *Client) ConnectionToken(ctx context.Context, id string) (*relay.Token, error) {
	var t relay.Token
	if err := c.do(ctx, http.MethodGet, "/api/v1/connections/"+url.PathEscape(id)+"/token", nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
