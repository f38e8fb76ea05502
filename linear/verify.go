package linear

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/hexmac"
)

var _ relay.ConnectionVerifier = (*Provider)(nil)

// VerifyConnection verifies a Linear webhook with the secret of the webhook
// its webhookId names. Relay registers one webhook per connected workspace,
// each with its own secret, and an admin of a workspace can read that
// secret in Linear: so a delivery of a connection's webhook must be signed
// with that webhook's secret and name that connection's workspace as
// organizationId. A webhookId that is no connection's webhook (the
// app-level webhook configured in the OAuth application, which tenants
// cannot see) is verified with the shared secret of Config, as Verify does.
//
// The webhookId is read from the unverified body only to choose the secret;
// the organizationId is checked after the signature, read as Parse reads
// it, so that the account the event is routed to is the one checked. It
// returns an *relay.Error with code EUNAUTHORIZED as Verify does and for a
// body naming another workspace, and a wrapped error when the secret could
// not be looked up (answered 500, so that Linear retries).
func (p *Provider) VerifyConnection(ctx context.Context, req *relay.WebhookRequest, secrets relay.WebhookSecrets) error {
	hook := gjson.GetBytes(req.Body, "webhookId").String()
	if secrets == nil || hook == "" {
		return p.Verify(req)
	}
	ws, err := secrets.WebhookSecret(ctx, p.Name(), hook)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return p.Verify(req)
	} else if err != nil {
		return fmt.Errorf("linear: look up the secret of webhook %s: %w", hook, err)
	}
	// The connection's own verifier: its secret, this adapter's timestamp
	// rules.
	own := &Provider{tolerance: p.tolerance, sig: hexmac.New(sha256.New, ws.Secret, HeaderSignature, "")}
	if err := own.Verify(req); err != nil {
		return err
	}
	in, err := p.Parse(req)
	if err != nil {
		return err
	}
	if in.AccountID != ws.AccountID {
		return relay.Errorf(relay.EUNAUTHORIZED, "organizationId is not the workspace of the webhook that signed it")
	}
	return nil
}
