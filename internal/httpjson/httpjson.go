// Package httpjson holds what every provider connector and lister does with
// an HTTP JSON API, so that it is done once: send a request (Client, with
// retries, Retry-After and rate limits), map the answer's status to a
// relay.Error in one place (5xx, 429 and a rate-limited 403 → EUNAVAILABLE,
// 401 → the Client's Unauthorized code, other 4xx → EINVALID; errors that
// a provider puts in the body are read by the Client's Classify hook),
// describe transport failures without URLs or headers, and follow Link
// rel="next".
package httpjson

import (
	"errors"
	"net/url"
	"regexp"
)

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

// Code returns the status of an answer Client.Do returned (with or without
// an error), or 0 when there was none (a transport failure, a 5xx or a
// rate limit).
func Code(resp *Response) int {
	if resp == nil {
		return 0
	}
	return resp.Status
}
