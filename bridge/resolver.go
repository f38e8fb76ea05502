package bridge

import (
	"context"

	"github.com/relayhq/relay"
)

// CustomerResolver is the resolver-chain step "bridge_customer": it reads
// the account (a Bridge customer id) from Bridge's API and passes on its
// email, first_name and last_name as attributes. It finds no org itself.
type CustomerResolver struct {
	Client *Client
}

var _ relay.Resolver = (*CustomerResolver)(nil)

// Name implements relay.Resolver.
func (r *CustomerResolver) Name() string { return "bridge_customer" }

// Resolve implements relay.Resolver. A customer Bridge does not have finds
// nothing; Bridge failing or timing out is EUNAVAILABLE, so the resolution
// is retried; a refused API key is EUNAUTHORIZED.
func (r *CustomerResolver) Resolve(ctx context.Context, q *relay.ResolveQuery) (*relay.ResolveStep, error) {
	c, err := r.Client.GetCustomer(ctx, q.AccountID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return &relay.ResolveStep{}, nil
	} else if err != nil {
		return nil, err
	}
	return &relay.ResolveStep{Attributes: map[string]string{"email": c.Email, "first_name": c.FirstName, "last_name": c.LastName}}, nil
}
