package persona

import (
	"context"

	"github.com/relayhq/relay"
)

// EmailResolver is the resolver-chain step "persona_accounts_by_email":
// the Persona accounts whose email field is the query's "email" attribute;
// each account's reference-id is an org id (the team sets it to its own id
// when it creates the account). Several accounts with different
// reference-ids are several candidates: the pairing is ambiguous.
type EmailResolver struct {
	Client *Client
}

var _ relay.Resolver = (*EmailResolver)(nil)

// Name implements relay.Resolver.
func (r *EmailResolver) Name() string { return "persona_accounts_by_email" }

// Resolve implements relay.Resolver. Without an email attribute (no
// resolver before it found one) it finds nothing. Persona failing or timing
// out is EUNAVAILABLE, so the resolution is retried.
func (r *EmailResolver) Resolve(ctx context.Context, q *relay.ResolveQuery) (*relay.ResolveStep, error) {
	email := q.Attributes["email"]
	if email == "" {
		return &relay.ResolveStep{}, nil
	}
	accts, err := r.Client.SearchAccountsByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	step := &relay.ResolveStep{}
	for _, a := range accts {
		if a.ReferenceID != "" {
			step.OrgIDs = append(step.OrgIDs, a.ReferenceID)
		}
	}
	return step, nil
}
