package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"testing"
)

// browser is a test's web browser in front of one running Relay: it keeps
// cookies, does not follow redirects (tests look at each hop), and reaches
// Relay's public URL (https://relay.example in most tests, whose cookies
// are then Secure) at the test server's address, as a TLS-terminating
// proxy would.
type browser struct {
	client *http.Client
	base   *url.URL // where Relay listens

	mu     sync.Mutex
	public string // Relay's public host, learnt from the start links it hands out
}

// browsers are the tests' default browsers, one per running Relay.
var browsers sync.Map // base URL → *browser

// browserFor returns the default browser in front of the Relay at base.
func browserFor(t *testing.T, base string) *browser {
	t.Helper()
	if b, ok := browsers.Load(base); ok {
		return b.(*browser)
	}
	b, _ := browsers.LoadOrStore(base, newBrowser(t, base))
	return b.(*browser)
}

// newBrowser returns a new browser, with no cookies, in front of the Relay
// at base.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{base: u}
	b.client = &http.Client{Jar: jar, Transport: b,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

// RoundTrip sends requests for Relay's public host to the test server.
func (b *browser) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	public := b.public
	b.mu.Unlock()
	if public != "" && r.URL.Host == public {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = b.base.Scheme, b.base.Host, ""
	}
	return http.DefaultTransport.RoundTrip(r)
}

// get fetches u and returns the answer, its body read.
func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// start opens a connect flow's start link, as Relay handed it out, and
// returns the answer, its body read.
func (b *browser) start(t *testing.T, startURL string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(startURL)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.public = u.Host
	b.mu.Unlock()
	return b.get(t, startURL)
}

// open opens a connect flow's start link, as Relay handed it out, and
// returns the provider's authorize URL it redirects to.
func (b *browser) open(t *testing.T, startURL string) string {
	t.Helper()
	resp, body := b.start(t, startURL)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") == "" {
		t.Fatalf("start link %s: %d %s", startURL, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}
