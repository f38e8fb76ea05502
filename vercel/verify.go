package vercel

import (
	"context"
	"crypto/sha1"
	"fmt"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/hexmac"
)

var _ relay.ConnectionVerifier = (*Provider)(nil)

// VerifyConnection verifies a Vercel webhook first with the integration's
// client secret (the integration's own webhook, for every account), else
// with the secret of the webhook Relay created through the API for the
// account the body names (payload.team.id, else payload.user.id, read as
// Parse reads it): Vercel signs an API-created webhook's deliveries with
// that webhook's secret. So an account's secret verifies only events of
// that account. It returns an *relay.Error with code EUNAUTHORIZED when
// neither secret made the signature, and a wrapped error when the
// account's secret could not be looked up (answered 500, so that Vercel
// retries).
func (p *Provider) VerifyConnection(ctx context.Context, req *relay.WebhookRequest, secrets relay.WebhookSecrets) error {
	appErr := p.Verify(req)
	if appErr == nil || secrets == nil {
		return appErr
	}
	in, err := p.Parse(req)
	if err != nil || in.AccountID == "" {
		return appErr
	}
	ws, err := secrets.WebhookSecretByAccount(ctx, p.Name(), in.AccountID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return appErr
	} else if err != nil {
		return fmt.Errorf("vercel: look up the webhook secret of account %s: %w", in.AccountID, err)
	}
	return hexmac.New(sha1.New, ws.Secret, HeaderSignature, "").Verify(req.Header.Get(HeaderSignature), req.Body)
}
