package vercel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/vercel"
)

// fakeSecrets is a relay.WebhookSecrets over fixed accounts.
type fakeSecrets struct {
	accounts map[string]relay.WebhookSecret
	err      error
	ctxs     []context.Context
}

func (f *fakeSecrets) WebhookSecret(ctx context.Context, provider, webhookID string) (*relay.WebhookSecret, error) {
	return nil, errors.New("not used by vercel")
}

func (f *fakeSecrets) WebhookSecretByAccount(ctx context.Context, provider, accountID string) (*relay.WebhookSecret, error) {
	f.ctxs = append(f.ctxs, ctx)
	if f.err != nil {
		return nil, f.err
	}
	if w, ok := f.accounts[accountID]; ok && provider == "vercel" {
		return &w, nil
	}
	return nil, relay.Errorf(relay.ENOTFOUND, "none")
}

func TestVerifyConnection(t *testing.T) {
	secrets := &fakeSecrets{accounts: map[string]relay.WebhookSecret{
		"team_a": {ConnectionID: "con_a", WebhookID: "hook_a", AccountID: "team_a", Secret: "secret-a"},
		"team_b": {ConnectionID: "con_b", WebhookID: "hook_b", AccountID: "team_b", Secret: "secret-b"},
		// A personal account: its events have team null and name the user.
		"usr_7QbK1sCm9wV2dXyZ": {ConnectionID: "con_u", WebhookID: "hook_u", AccountID: "usr_7QbK1sCm9wV2dXyZ", Secret: "secret-u"},
	}}
	p := vercel.New(vercel.Config{ClientSecret: secret})
	teamA := simulator.VercelDeploymentPayload("evt_1", "team_a", "prj_1")
	teamB := simulator.VercelDeploymentPayload("evt_2", "team_b", "prj_2")
	personal := simulator.VercelDeploymentPayload("evt_3", "", "prj_3")
	unknown := simulator.VercelDeploymentPayload("evt_4", "team_x", "prj_4")
	tests := []struct {
		name, secret string
		body         []byte
		code         string
	}{
		{"integration secret", secret, teamB, ""},
		{"integration secret, unknown account", secret, unknown, ""},
		{"account webhook's secret", "secret-a", teamA, ""},
		{"personal account webhook's secret", "secret-u", personal, ""},
		{"another account's webhook secret", "secret-a", teamB, relay.EUNAUTHORIZED},
		{"an account secret for an unknown account", "secret-a", unknown, relay.EUNAUTHORIZED},
		{"wrong secret", "nope", teamA, relay.EUNAUTHORIZED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: simulator.VercelWebhook(tc.secret, tc.body), Body: tc.body}
			err := p.VerifyConnection(context.Background(), req, secrets)
			if relay.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("got %v, want code %q", err, tc.code)
			}
		})
	}

	// The request's context reaches the lookup; a failed lookup is not a
	// bad signature; without connections only the integration secret works.
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "req")
	req := &relay.WebhookRequest{Header: simulator.VercelWebhook("secret-a", teamA), Body: teamA}
	secrets.ctxs = nil
	if err := p.VerifyConnection(ctx, req, secrets); err != nil || len(secrets.ctxs) != 1 || secrets.ctxs[0].Value(key{}) != "req" {
		t.Fatalf("verify %v, lookups %d", err, len(secrets.ctxs))
	}
	if err := p.VerifyConnection(ctx, req, &fakeSecrets{err: errors.New("database down")}); err == nil || relay.ErrorCode(err) == relay.EUNAUTHORIZED {
		t.Fatalf("failed lookup: %v", err)
	}
	if err := p.VerifyConnection(ctx, req, nil); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("an account secret without connections: %v", err)
	}
}
