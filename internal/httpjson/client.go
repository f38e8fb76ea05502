package httpjson

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"golang.org/x/time/rate"

	"github.com/relayhq/relay"
)

// Client is the HTTP client provider adapters call their APIs with. Each
// attempt has its own timeout; timeouts, connection errors, 5xx and 429 are
// retried with exponential backoff and jitter (Retry-After and rate-limit
// resets honoured), other 4xx never; a create gets one Idempotency-Key that
// every retry repeats. A wait longer than MaxWait is not slept: the error
// carries RetryAt, so a job can snooze instead of holding a worker.
type Client struct {
	HTTP     *http.Client
	Provider string // names the provider in errors
	// Timeout bounds each attempt; default 20 s. A negative Timeout sets
	// none, leaving the call to the context and HTTP's own timeout (calls
	// made while a user waits, bounded by the request).
	Timeout  time.Duration
	Attempts int // tries in all for a retryable failure; default 3
	// BaseDelay is the first backoff (doubling, ±50 % jitter, capped at
	// MaxWait); default 250 ms.
	BaseDelay time.Duration
	// MaxWait is the longest wait slept between attempts; default 5 s.
	MaxWait time.Duration
	// RateLimit reads the provider's rate-limit headers; nil when it has none.
	RateLimit func(h http.Header, now time.Time) relay.RateLimit
	// DeferLimits returns a rate-limited answer (429, or GitHub's 403) at
	// once with RetryAt set (1 s when the provider named no wait), instead
	// of retrying in place: for callers that keep their own request budget
	// and wait by rescheduling (backfill jobs).
	DeferLimits bool
	// Limiter, when set, spaces out requests (a per-provider client-side limit).
	Limiter *rate.Limiter
	// NoRedirects answers a 3xx as a refusal instead of following it. By
	// default a redirect is followed only to the same scheme and host: the
	// request's headers (API keys, signatures) must never reach another
	// host, and a redirect to one is answered as a refusal (EINVALID).
	NoRedirects bool
	// Classify, when set, reads every answer's body (up to 32 MiB) before
	// its status is mapped, for providers that report errors in the body:
	// Linear's GraphQL errors (RATELIMITED, AUTHENTICATION_ERROR) in 200 and
	// 400 answers, Vercel's 403 {"invalidToken":true}. It returns the
	// status the answer stands for (its own to leave it be; 429 for a rate
	// limit, 401 for a refused token, 4xx for an error in a 2xx answer),
	// which the Client's one status mapping (errorFor) then reads, and a short detail that the
	// error's message carries after the status: the provider's own words,
	// never a secret.
	Classify func(status int, body []byte) (int, string)
	// Unauthorized is the code a 401 maps to. The default, EUNAUTHORIZED,
	// is for callers that refresh the token and try again (backfill jobs);
	// a connect flow, to which a refused credential is a refusal like any
	// other, sets EINVALID.
	Unauthorized string
	Now          func() time.Time

	clientOnce sync.Once
	client     *http.Client
}

// Request is one logical API call.
type Request struct {
	Method string
	URL    string
	What   string // names the call in errors: "list issues"
	Header http.Header
	Body   any // JSON-encoded; url.Values as a form; nil for none
	// Idempotent sends an Idempotency-Key header, generated once for the
	// call and repeated on every retry (for POSTs that create something).
	Idempotent bool
	// IdempotencyKey, when set, is the key to send (a caller's own stable
	// key for a logical operation); it implies Idempotent.
	IdempotencyKey string
	// Out decodes a 2xx JSON answer; nil to ignore it. A *json.RawMessage
	// gets the answer as it came, checked to be JSON but not decoded (for
	// a caller that reads a few fields of a large answer).
	Out any
}

// Response is an answer's metadata: of the successful one, or, with the
// error, of a refused one (a 4xx other than 429, never retried), so that a
// caller can tell a 404 or a 409 from other refusals. Status is the status
// the answer stands for: Classify's when the Client has one.
type Response struct {
	Status    int
	Header    http.Header
	RateLimit relay.RateLimit
	Attempts  int
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Do performs the call, retrying as the Client's doc says. Errors are
// *relay.Error naming the provider, the call and the status: Unauthorized
// (EUNAUTHORIZED by default) for 401, EINVALID for other 4xx,
// EUNAVAILABLE for timeouts, transport errors, malformed answers, 5xx, 429
// and a rate-limited 403 (with RetryAt when the provider said when).
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	attempts := cmpOr(c.Attempts, 3)
	timeout := cmpOr(c.Timeout, 20*time.Second)
	base := cmpOr(c.BaseDelay, 250*time.Millisecond)
	maxWait := cmpOr(c.MaxWait, 5*time.Second)

	var body []byte
	form := false
	if r.Body != nil {
		switch b := r.Body.(type) {
		case url.Values:
			body, form = []byte(b.Encode()), true
		default:
			j, err := json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", c.Provider, r.What, err)
			}
			body = j
		}
	}
	key := r.IdempotencyKey
	if key == "" && r.Idempotent {
		key = crand.Text()
	}

	var lastErr error
	for attempt := 1; ; attempt++ {
		if c.Limiter != nil {
			if err := c.Limiter.Wait(ctx); err != nil {
				return nil, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", c.Provider, r.What, "cancelled while rate limited")
			}
		}
		resp, wait, limited, err := c.once(ctx, r, body, form, key, timeout)
		if err == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		lastErr = err
		if relay.ErrorCode(err) != relay.EUNAVAILABLE || ctx.Err() != nil {
			if resp != nil {
				resp.Attempts = attempt
			}
			return resp, err
		}
		if limited && c.DeferLimits {
			var e *relay.Error
			if errors.As(err, &e) {
				e.RetryAt = c.now().Add(max(wait, time.Second))
			}
			return nil, err
		}
		if wait == 0 {
			d := base << min(attempt-1, 16)
			d = min(d/2+rand.N(d), maxWait)
			wait = d
		}
		if wait > maxWait || attempt >= attempts {
			var e *relay.Error
			if errors.As(err, &e) && wait > maxWait {
				e.RetryAt = c.now().Add(wait)
			}
			return nil, lastErr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, lastErr
		case <-t.C:
		}
	}
}

// Call is Do for a request with only these fields: what names the call,
// header and body (nil for none) are sent, out decodes a 2xx answer (nil
// to ignore it). Errors as Do's.
func (c *Client) Call(ctx context.Context, what, method, u string, header http.Header, body, out any) (*Response, error) {
	return c.Do(ctx, &Request{Method: method, URL: u, What: what, Header: header, Body: body, Out: out})
}

// once makes one attempt. It returns the wait the provider asked for (0 when
// it named none) and whether it was a rate limit, with a retryable error.
func (c *Client) once(ctx context.Context, r *Request, body []byte, form bool, key string, timeout time.Duration) (*Response, time.Duration, bool, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, rd)
	if err != nil {
		return nil, 0, false, fmt.Errorf("%s: %s: %w", c.Provider, r.What, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if key != "" && r.Method == http.MethodPost {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, 0, false, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", c.Provider, r.What, transport(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	now := c.now()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	if c.RateLimit != nil {
		out.RateLimit = c.RateLimit(resp.Header, now)
	}
	var answer io.Reader = io.LimitReader(resp.Body, 32<<20)
	detail := ""
	if c.Classify != nil {
		b, err := io.ReadAll(answer)
		if err != nil {
			return nil, 0, false, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", c.Provider, r.What, transport(err))
		}
		out.Status, detail = c.Classify(resp.StatusCode, b)
		answer = bytes.NewReader(b)
	}
	if out.Status/100 == 2 {
		if raw, ok := r.Out.(*json.RawMessage); ok && out.Status != http.StatusNoContent {
			b, err := io.ReadAll(answer)
			if err != nil {
				return nil, 0, false, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", c.Provider, r.What, transport(err))
			}
			if !gjson.ValidBytes(b) {
				return nil, 0, false, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: malformed answer", c.Provider, r.What)
			}
			*raw = b
		} else if r.Out != nil && out.Status != http.StatusNoContent {
			if err := json.NewDecoder(answer).Decode(r.Out); err != nil {
				return nil, 0, false, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: malformed answer", c.Provider, r.What)
			}
		}
		return out, 0, false, nil
	}
	return c.statusError(r.What, resp.StatusCode, detail, out, now)
}

// statusError is the one mapping of a refused or failed answer to a
// relay.Error; out.Status is the status the answer stands for, sent the
// status it came with. It returns what once does.
func (c *Client) statusError(what string, sent int, detail string, out *Response, now time.Time) (*Response, time.Duration, bool, error) {
	msg := fmt.Sprintf("%s: %s: HTTP %d", c.Provider, what, sent)
	if detail != "" {
		msg += ": " + truncate(detail, 300)
	}
	rl, status := out.RateLimit, out.Status
	// A 403 is a rate limit when the limit is used up or it names a wait
	// (GitHub's primary and secondary limits).
	limited := status == http.StatusTooManyRequests ||
		(status == http.StatusForbidden && ((rl.Known && rl.Remaining == 0) || out.Header.Get("Retry-After") != ""))
	wait := time.Duration(0)
	if limited || status >= 500 {
		// Retry-After, but not before the window resets when the limit is
		// used up.
		wait = RetryAfter(out.Header, now)
		if rl.Known && rl.Remaining == 0 && rl.Reset.After(now) {
			wait = max(wait, rl.Reset.Sub(now))
		}
	}
	err := errorFor(msg, status, limited, c.Unauthorized)
	if err.Code == relay.EUNAVAILABLE {
		return nil, wait, limited, err
	}
	return out, 0, false, err
}

// errorFor is the one mapping of a refused or failed answer to an error
// code: EUNAVAILABLE for 5xx and a rate limit (limited: a 429, or a 403
// read as one), unauthorized (EUNAUTHORIZED when "") for 401, EINVALID for
// any other status. msg names the provider, the call and the status.
func errorFor(msg string, status int, limited bool, unauthorized string) *relay.Error {
	switch {
	case limited || status >= 500:
		if limited {
			msg += " (rate limited)"
		}
		return relay.Errorf(relay.EUNAVAILABLE, "%s", msg)
	case status == http.StatusUnauthorized:
		return relay.Errorf(cmpOr(unauthorized, relay.EUNAUTHORIZED), "%s", msg)
	}
	return relay.Errorf(relay.EINVALID, "%s", msg)
}

// httpClient is c.HTTP (or the default client) with the redirect policy
// the Client's doc gives; the caller's own CheckRedirect, if any, still
// runs for the redirects the policy allows.
func (c *Client) httpClient() *http.Client {
	c.clientOnce.Do(func() {
		hc := http.Client{}
		if c.HTTP != nil {
			hc = *c.HTTP
		}
		own := hc.CheckRedirect
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if c.NoRedirects {
				return http.ErrUseLastResponse
			}
			first := via[0].URL
			if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return http.ErrUseLastResponse
			}
			if len(via) >= 5 {
				return http.ErrUseLastResponse
			}
			if own != nil {
				return own(req, via)
			}
			return nil
		}
		c.client = &hc
	})
	return c.client
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unparsable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// EpochRateLimit returns a RateLimit reader for headers named limit,
// remaining and reset, where reset is a Unix time in seconds (GitHub,
// Linear, Sentry, Vercel) or, when resetIsDelta, seconds from now (Persona).
func EpochRateLimit(limit, remaining, reset string, resetIsDelta bool) func(http.Header, time.Time) relay.RateLimit {
	return func(h http.Header, now time.Time) relay.RateLimit {
		rem, err := strconv.Atoi(h.Get(remaining))
		if err != nil {
			return relay.RateLimit{}
		}
		rl := relay.RateLimit{Known: true, Remaining: rem}
		rl.Limit, _ = strconv.Atoi(h.Get(limit))
		if r, err := strconv.ParseFloat(h.Get(reset), 64); err == nil {
			if resetIsDelta {
				rl.Reset = now.Add(time.Duration(r * float64(time.Second)))
			} else {
				rl.Reset = time.Unix(0, int64(r*1e9))
			}
		}
		return rl
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// NewFlowClient returns a Client for the calls a connect flow makes while
// a user waits (the code exchange, listing resources, registering
// webhooks) and for confirming lifecycle webhooks: one attempt, bounded by
// hc's own timeout and the context rather than a per-attempt one, and a
// refused credential (401) is a refusal (EINVALID) like any other, since
// there is no token to refresh and try again with. rl reads the provider's
// rate-limit headers (nil when it has none); set Classify on the result
// for a provider whose errors live in the body.
func NewFlowClient(hc *http.Client, provider string, rl func(http.Header, time.Time) relay.RateLimit) *Client {
	return &Client{HTTP: hc, Provider: provider, Attempts: 1, Timeout: -1, Unauthorized: relay.EINVALID, RateLimit: rl}
}
