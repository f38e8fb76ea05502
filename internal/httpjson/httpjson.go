// Package httpjson holds what every provider connector does with an HTTP
// JSON API: send a request, map the answer's status to a relay.Error
// (5xx and 429 → EUNAVAILABLE, other 4xx → EINVALID), describe transport
// failures without URLs or headers, and follow Link rel="next".
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"

	"github.com/relayhq/relay"
)

// Do sends method url with the given headers and JSON body (nil for none),
// and decodes a 2xx answer into out (nil to ignore it). what names the call
// in errors ("sentry: exchange code: HTTP 400"), which never contain a
// header or the body sent.
func Do(ctx context.Context, client *http.Client, provider, what, method, u string, header http.Header, body, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case url.Values:
			rd = bytes.NewReader([]byte(b.Encode()))
		default:
			j, err := json.Marshal(body)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", provider, what, err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", provider, what, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		if _, form := body.(url.Values); form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", provider, what, transport(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode/100 != 2 {
		return resp, StatusError(provider, what, resp)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
			return resp, relay.Errorf(relay.EUNAVAILABLE, "%s: %s: malformed answer", provider, what)
		}
	}
	return resp, nil
}

// StatusError maps a non-2xx answer to a relay.Error.
func StatusError(provider, what string, resp *http.Response) error {
	msg := fmt.Sprintf("%s: %s: HTTP %d", provider, what, resp.StatusCode)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return relay.Errorf(relay.EUNAVAILABLE, "%s", msg)
	}
	return relay.Errorf(relay.EINVALID, "%s", msg)
}

func transport(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		return ue.Err.Error()
	}
	return "request failed"
}

var linkRE = regexp.MustCompile(`<([^>]+)>;\s*rel="next"((?:;\s*[a-z]+="[^"]*")*)`)
var resultsFalse = regexp.MustCompile(`results="false"`)

// NextLink returns the rel="next" URL of a Link header, or "" when there is
// none or, Sentry-style, it says results="false".
func NextLink(h string) string {
	for _, m := range linkRE.FindAllStringSubmatch(h, -1) {
		if resultsFalse.MatchString(m[2]) {
			return ""
		}
		return m[1]
	}
	return ""
}

// Code returns the HTTP status of a failed Do, or 0.
func Code(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
