package http

import (
	"context"
	"net/http"
	"net/url"

	"github.com/relayhq/relay"
)

// ListAPIKeys returns the API keys the client's key may see, oldest first:
// every key for an admin key, its own org's for an org key. Keys come
// without their secret or hash.
func (c *Client) ListAPIKeys(ctx context.Context) ([]*relay.APIKey, error) {
	var page relay.Page[*relay.APIKey]
	if err := c.do(ctx, http.MethodGet, "/api/v1/api-keys", nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// CreateAdminAPIKey creates an admin API key named name and returns it
// with its secret, which is shown only in this answer. It needs an admin
// key (else EFORBIDDEN); an empty, too long or reserved name ("admin",
// "admin (config)") is EINVALID.
func (c *Client) CreateAdminAPIKey(ctx context.Context, name string) (key *relay.APIKey, secret string, err error) {
	var out struct {
		relay.APIKey
		Key string `json:"key"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/api-keys", nil, clientAPIKeyInput{Name: name}, &out); err != nil {
		return nil, "", err
	}
	return &out.APIKey, out.Key, nil
}

// RevokeAPIKey revokes the API key with this id: it stops working at once
// on the Relay that answers, and within 5 seconds on its other replicas.
// An org key may revoke only its own org's keys: another org's key, like an
// unknown one, is ENOTFOUND. The last admin key is ECONFLICT.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/api-keys/"+url.PathEscape(id), nil, nil, nil)
}
