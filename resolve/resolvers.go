package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/tidwall/gjson"

	"github.com/relayhq/relay"
)

// PayloadResolver reads one field of the account's latest held event: the
// org id itself (As "org_id") or an attribute for the resolvers after it
// (e.g. the email a customer event carries).
type PayloadResolver struct {
	Path string // a gjson path into the payload: "data.attributes.payload.data.attributes.reference-id"
	As   string // "org_id", or the attribute name
}

// Name implements relay.Resolver.
func (p *PayloadResolver) Name() string { return "payload" }

// Resolve implements relay.Resolver. It never fails: a payload without
// the field finds nothing.
func (p *PayloadResolver) Resolve(_ context.Context, q *relay.ResolveQuery) (*relay.ResolveStep, error) {
	v := gjson.GetBytes(q.Payload, p.Path)
	if !v.Exists() || v.String() == "" || (v.Type != gjson.String && v.Type != gjson.Number) {
		return &relay.ResolveStep{}, nil
	}
	if p.As == "org_id" {
		return &relay.ResolveStep{OrgIDs: []string{v.String()}}, nil
	}
	return &relay.ResolveStep{Attributes: map[string]string{p.As: v.String()}}, nil
}

// HTTPResolver asks the team's own app: POST URL with {provider,
// account_id, attributes}, signed per Standard Webhooks with Secret (the
// same scheme as deliveries, so the app verifies it with the same code).
// The app answers 200 {"org_id": "…"} (or {"org_ids": […]} when it knows
// several), or 404 when it does not know the account.
type HTTPResolver struct {
	URL    string
	Secret string // "whsec_…"
	Client *http.Client
	Now    func() time.Time
}

// Name implements relay.Resolver.
func (h *HTTPResolver) Name() string { return "http" }

// Resolve implements relay.Resolver. A 404 finds nothing; a timeout, a
// connection error, a 5xx or a 429 is EUNAVAILABLE (the resolution is
// retried); any other answer, or a body that is not the JSON above, is
// EINVALID.
func (h *HTTPResolver) Resolve(ctx context.Context, q *relay.ResolveQuery) (*relay.ResolveStep, error) {
	body, err := json.Marshal(map[string]any{"provider": q.Provider, "account_id": q.AccountID, "attributes": q.Attributes})
	if err != nil {
		return nil, fmt.Errorf("resolve: http: %w", err)
	}
	wh, err := standardwebhooks.NewWebhook(h.Secret)
	if err != nil {
		return nil, relay.Errorf(relay.EINVALID, "http resolver: the secret is not a whsec_ secret")
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	at := now()
	id := relay.NewID("rsl", at)
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		return nil, fmt.Errorf("resolve: http: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, relay.Errorf(relay.EINVALID, "http resolver: bad lookup_url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Id", id)
	req.Header.Set("Webhook-Timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("Webhook-Signature", sig)
	req.Header.Set("User-Agent", "Relay")
	hc := http.Client{Timeout: 15 * time.Second}
	if h.Client != nil {
		hc = *h.Client
	}
	// A redirect is not followed: it would carry the signed lookup (and
	// its headers) to a host the configuration did not name.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "http resolver: lookup failed: %s", transportError(ctx, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &relay.ResolveStep{}, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, relay.Errorf(relay.EUNAVAILABLE, "http resolver: lookup answered HTTP %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, relay.Errorf(relay.EINVALID, "http resolver: lookup answered HTTP %d", resp.StatusCode)
	}
	var ans struct {
		OrgID  string   `json:"org_id"`
		OrgIDs []string `json:"org_ids"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return nil, relay.Errorf(relay.EINVALID, "http resolver: the lookup's answer is not {\"org_id\": …}")
	}
	orgs := ans.OrgIDs
	if ans.OrgID != "" {
		orgs = append(orgs, ans.OrgID)
	}
	return &relay.ResolveStep{OrgIDs: orgs}, nil
}

// transportError says what went wrong without the URL (which may hold a
// token in its query).
func transportError(ctx context.Context, err error) string {
	var t interface{ Timeout() bool }
	if ctx.Err() != nil || (errors.As(err, &t) && t.Timeout()) {
		return "timed out"
	}
	return "connection failed"
}
