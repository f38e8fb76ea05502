package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relayhq/relay"
)

// Client calls Relay's JSON API under /api/v1 with a bearer API key. Build
// it with NewClient. API errors come back as *relay.Error with the server's
// code and message; transport failures and unexpected answers are other,
// wrapped errors (relay.ErrorCode reports them as EINTERNAL).
type Client struct {
	// HTTPClient sends the requests; NewClient sets one with a 60 s timeout.
	HTTPClient *http.Client

	baseURL string
	apiKey  string
}

// clientMaxErrorBody bounds how much of an error answer is read.
const clientMaxErrorBody = 64 << 10

// NewClient returns a client of the Relay at baseURL (e.g.
// "http://127.0.0.1:8080", or one with a path prefix behind a proxy) that
// authenticates with apiKey.
func NewClient(baseURL, apiKey string) *Client {
	return &Client{
		HTTPClient: &http.Client{Timeout: 60 * time.Second},
		baseURL:    strings.TrimRight(baseURL, "/"),
		apiKey:     apiKey,
	}
}

// ListEvents returns one page of events, newest first, matching f (f.OrgID
// is ignored: an org-scoped key sees only its org anyway). Pass the page's
// Next as f.Cursor for the following page.
func (c *Client) ListEvents(ctx context.Context, f relay.EventFilter) (*relay.Page[*relay.Event], error) {
	q := url.Values{}
	clientSet(q, "provider", f.Provider)
	clientSet(q, "event_type", f.EventType)
	clientSet(q, "status", f.Status)
	clientSetTime(q, "since", f.Since)
	clientSetTime(q, "until", f.Until)
	clientSet(q, "cursor", f.Cursor)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page relay.Page[*relay.Event]
	if err := c.do(ctx, http.MethodGet, "/api/v1/events", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// GetEvent returns the event with its deliveries and their attempt logs. An
// unknown id is an *relay.Error with code ENOTFOUND.
func (c *Client) GetEvent(ctx context.Context, id string) (*relay.Event, error) {
	var e relay.Event
	if err := c.do(ctx, http.MethodGet, "/api/v1/events/"+url.PathEscape(id), nil, nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ReplayEvent sends the event again to every destination that matches it and
// returns the deliveries made due.
func (c *Client) ReplayEvent(ctx context.Context, id string) ([]*relay.Delivery, error) {
	var page relay.Page[*relay.Delivery]
	if err := c.do(ctx, http.MethodPost, "/api/v1/events/"+url.PathEscape(id)+"/replay", nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// ListDeliveries returns one page of deliveries, newest first, matching f
// (f.OrgID is ignored).
func (c *Client) ListDeliveries(ctx context.Context, f relay.DeliveryFilter) (*relay.Page[*relay.Delivery], error) {
	q := url.Values{}
	clientSet(q, "event_id", f.EventID)
	clientSet(q, "destination_id", f.DestinationID)
	clientSet(q, "status", f.Status)
	clientSetTime(q, "since", f.Since)
	clientSetTime(q, "until", f.Until)
	clientSet(q, "cursor", f.Cursor)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page relay.Page[*relay.Delivery]
	if err := c.do(ctx, http.MethodGet, "/api/v1/deliveries", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// GetDelivery returns the delivery with its attempt log.
func (c *Client) GetDelivery(ctx context.Context, id string) (*relay.Delivery, error) {
	var d relay.Delivery
	if err := c.do(ctx, http.MethodGet, "/api/v1/deliveries/"+url.PathEscape(id), nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ReplayDelivery makes the delivery due again now and returns it.
func (c *Client) ReplayDelivery(ctx context.Context, id string) (*relay.Delivery, error) {
	var d relay.Delivery
	if err := c.do(ctx, http.MethodPost, "/api/v1/deliveries/"+url.PathEscape(id)+"/replay", nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDestinations returns every destination, without secrets. It needs an
// admin key (else EFORBIDDEN).
func (c *Client) ListDestinations(ctx context.Context) ([]*relay.Destination, error) {
	var page relay.Page[*relay.Destination]
	if err := c.do(ctx, http.MethodGet, "/api/v1/destinations", nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// clientDestinationInput is the body of a create: the settable fields only,
// since the server rejects unknown ones (id, timestamps).
type clientDestinationInput struct {
	Name           string          `json:"name"`
	URL            string          `json:"url"`
	Secret         string          `json:"secret,omitempty"`
	Providers      []string        `json:"providers,omitempty"`
	EventTypes     []string        `json:"event_types,omitempty"`
	OrgID          string          `json:"org_id,omitempty"`
	MaxConcurrency int             `json:"max_concurrency,omitempty"`
	Timeout        *relay.Duration `json:"timeout,omitempty"`
	Disabled       bool            `json:"disabled,omitempty"`
	Ordering       string          `json:"ordering,omitempty"`
	OnDead         string          `json:"on_dead,omitempty"`
}

// CreateDestination creates a destination from d's settable fields (name,
// url, secret, providers, event_types, org_id, max_concurrency, timeout,
// disabled, ordering, on_dead) and returns it, including its secret: generated by the server
// when d.Secret is "", and shown only in this answer. Invalid fields are an
// *relay.Error with code EINVALID; a taken name, ECONFLICT.
func (c *Client) CreateDestination(ctx context.Context, d *relay.Destination) (*relay.Destination, error) {
	in := clientDestinationInput{
		Name: d.Name, URL: d.URL, Secret: d.Secret, Providers: d.Providers, EventTypes: d.EventTypes,
		OrgID: d.OrgID, MaxConcurrency: d.MaxConcurrency, Disabled: d.Disabled, Ordering: d.Ordering, OnDead: d.OnDead,
	}
	if d.Timeout != 0 {
		in.Timeout = &d.Timeout
	}
	var out relay.Destination
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDestination returns the destination, without its secret.
func (c *Client) GetDestination(ctx context.Context, id string) (*relay.Destination, error) {
	var d relay.Destination
	if err := c.do(ctx, http.MethodGet, "/api/v1/destinations/"+url.PathEscape(id), nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// UpdateDestination changes the fields present in patch (any of name, url,
// secret, providers, event_types, org_id, max_concurrency, timeout,
// disabled, ordering, on_dead; a timeout as a string like "15s") and returns the destination,
// without its secret.
func (c *Client) UpdateDestination(ctx context.Context, id string, patch map[string]any) (*relay.Destination, error) {
	var d relay.Destination
	if err := c.do(ctx, http.MethodPatch, "/api/v1/destinations/"+url.PathEscape(id), nil, patch, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// DeleteDestination deletes the destination; Relay stops delivering to it.
func (c *Client) DeleteDestination(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/destinations/"+url.PathEscape(id), nil, nil, nil)
}

// ReplayDead makes every dead delivery of the destination created in
// [since, until) due again, and returns how many. A zero since or until
// leaves that side open.
func (c *Client) ReplayDead(ctx context.Context, id string, since, until time.Time) (int, error) {
	in := map[string]string{}
	if !since.IsZero() {
		in["since"] = since.UTC().Format(time.RFC3339Nano)
	}
	if !until.IsZero() {
		in["until"] = until.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		Replayed int `json:"replayed"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/replay", nil, in, &out); err != nil {
		return 0, err
	}
	return out.Replayed, nil
}

// ResumeDestination ends the destination's circuit-breaker pause now and
// returns how many of its retrying deliveries it made due. An unknown id is
// an *relay.Error ENOTFOUND; an org-scoped key gets EFORBIDDEN.
func (c *Client) ResumeDestination(ctx context.Context, id string) (int, error) {
	var out struct {
		MadeDue int `json:"made_due"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/resume", nil, nil, &out); err != nil {
		return 0, err
	}
	return out.MadeDue, nil
}

// RotateSecret gives the destination a new signing secret and returns the
// destination with it (the only time it is shown). For overlap (nil: the
// server's delivery.rotation_overlap, 24h by default) every delivery is
// signed with the new and the replaced secret. secret "" lets Relay
// generate it. Errors: ENOTFOUND, EINVALID (overlap, secret), EFORBIDDEN
// for an org-scoped key.
func (c *Client) RotateSecret(ctx context.Context, id string, overlap *time.Duration, secret string) (*relay.Destination, error) {
	in := map[string]string{}
	if overlap != nil {
		in["overlap"] = overlap.String()
	}
	if secret != "" {
		in["secret"] = secret
	}
	var d relay.Destination
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/rotate-secret", nil, in, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// TestDestination sends a signed relay.test event to the destination
// through the normal pipeline and returns it with its delivery once the
// first attempt is recorded (Delivery.Attempts 0 if the server's wait ran
// out first). Errors: ENOTFOUND, ECONFLICT for a disabled destination,
// EFORBIDDEN for an org-scoped key.
func (c *Client) TestDestination(ctx context.Context, id string) (*TestResult, error) {
	var out TestResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/destinations/"+url.PathEscape(id)+"/test", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// clientErrorBody is the API's error answer.
type clientErrorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends one request, with in (when not nil) as its JSON body, and decodes
// a 2xx answer into out (when not nil). A non-2xx answer in the API's error
// format becomes an *relay.Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.doStatus(ctx, method, path, query, in, out)
	return err
}

// doStatus is do that also returns the answer's status (0 on a transport error).
func (c *Client) doStatus(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("relay api: %s %s: encoding the request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, fmt.Errorf("relay api: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "relay-client/"+relay.Version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("relay api: %w", err) // *url.Error names the method and URL
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, clientMaxErrorBody))
		var eb clientErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			return resp.StatusCode, &relay.Error{Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return resp.StatusCode, fmt.Errorf("relay api: %s %s: unexpected answer %s: %s", method, path, resp.Status, clientSnippet(b))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body) // let the connection be reused
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("relay api: %s %s: decoding the answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

func clientSet(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

func clientSetTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, t.UTC().Format(time.RFC3339Nano))
	}
}

// clientSnippet returns the start of a non-API answer (a proxy's HTML page,
// say) for an error message.
func clientSnippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
