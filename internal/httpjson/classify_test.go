package httpjson

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relayhq/relay"
)

func body(code int, b string, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(b))
	}
}

// gqlClassify reads a GraphQL error answer the way a provider that reports
// its errors in the body would.
func gqlClassify(status int, b []byte) (int, string) {
	var env struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &env) != nil || len(env.Errors) == 0 {
		return status, ""
	}
	e := env.Errors[0]
	switch e.Extensions.Code {
	case "RATELIMITED":
		return http.StatusTooManyRequests, e.Message
	case "AUTHENTICATION_ERROR":
		return http.StatusUnauthorized, e.Message
	}
	return http.StatusBadRequest, e.Message
}

func TestClassifyRateLimitInABodyIsDeferred(t *testing.T) {
	rec, base := serve(t, body(400, `{"errors":[{"message":"slow down","extensions":{"code":"RATELIMITED"}}]}`, "Retry-After", "30"))
	c := fast(func(c *Client) { c.Classify, c.DeferLimits = gqlClassify, true })
	_, err := c.Do(context.Background(), &Request{Method: "POST", URL: base, What: "query"})
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.RetryAt(err).IsZero() || rec.count() != 1 {
		t.Fatalf("err = %v, retry at %v, %d requests; want EUNAVAILABLE with RetryAt after one request", err, relay.RetryAt(err), rec.count())
	}
	if msg := relay.ErrorMessage(err); !strings.Contains(msg, "slow down") || !strings.Contains(msg, "rate limited") {
		t.Fatalf("message %q does not carry the provider's message and the rate limit", msg)
	}
}

func TestClassifyErrorsInASuccessfulAnswer(t *testing.T) {
	_, base := serve(t, body(200, `{"data":null,"errors":[{"message":"not authenticated","extensions":{"code":"AUTHENTICATION_ERROR"}}]}`))
	var out map[string]any
	resp, err := fast(func(c *Client) { c.Classify = gqlClassify }).Do(context.Background(), &Request{Method: "POST", URL: base, What: "query", Out: &out})
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED || resp == nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v, resp = %+v; want EUNAUTHORIZED with status 401", err, resp)
	}
	if out != nil {
		t.Fatalf("an error answer was decoded into Out: %v", out)
	}
	// An answer the hook leaves be is decoded as usual.
	_, base = serve(t, body(200, `{"data":{"a":1}}`))
	resp, err = fast(func(c *Client) { c.Classify = gqlClassify }).Do(context.Background(), &Request{Method: "POST", URL: base, What: "query", Out: &out})
	if err != nil || resp.Status != http.StatusOK || out["data"] == nil {
		t.Fatalf("err = %v, out = %v", err, out)
	}
}

func TestClassifyDetailJoinsTheMessage(t *testing.T) {
	_, base := serve(t, body(422, `{"message":"Validation Failed"}`))
	c := fast(func(c *Client) {
		c.Classify = func(status int, b []byte) (int, string) {
			var m struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(b, &m)
			return status, m.Message
		}
	})
	resp, err := c.Do(context.Background(), &Request{Method: "POST", URL: base, What: "create"})
	if relay.ErrorCode(err) != relay.EINVALID || resp == nil || resp.Status != 422 ||
		relay.ErrorMessage(err) != "prov: create: HTTP 422: Validation Failed" {
		t.Fatalf("err = %v, resp = %+v", err, resp)
	}
}

func TestUnauthorizedCode(t *testing.T) {
	rec, base := serve(t, status(401), status(401))
	resp, err := fast().Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
	if relay.ErrorCode(err) != relay.EUNAUTHORIZED || resp == nil || resp.Status != 401 {
		t.Fatalf("default: err = %v, resp = %+v; want EUNAUTHORIZED with status 401", err, resp)
	}
	resp, err = fast(func(c *Client) { c.Unauthorized = relay.EINVALID }).Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
	if relay.ErrorCode(err) != relay.EINVALID || resp == nil || resp.Status != 401 || rec.count() != 2 {
		t.Fatalf("Unauthorized EINVALID: err = %v, resp = %+v, %d requests", err, resp, rec.count())
	}
}

func TestNegativeTimeoutLeavesTheCallToTheContext(t *testing.T) {
	_, base := serve(t)
	resp, err := fast(func(c *Client) { c.Timeout = -1 }).Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
	if err != nil || resp.Status != 200 {
		t.Fatalf("err = %v", err)
	}
}
