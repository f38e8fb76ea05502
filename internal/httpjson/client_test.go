package httpjson

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// recorder is a provider API that answers each request with the next
// scripted answer and records what it received.
type recorder struct {
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter)
	requests []*http.Request
	bodies   []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.requests)
	rec.requests = append(rec.requests, r.Clone(context.Background()))
	rec.bodies = append(rec.bodies, string(b))
	answer := func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK); _, _ = w.Write([]byte(`{"ok":true}`)) }
	if n < len(rec.answers) {
		answer = rec.answers[n]
	}
	rec.mu.Unlock()
	answer(w)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

func status(code int, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"scripted"}`))
	}
}

func serve(t *testing.T, answers ...func(w http.ResponseWriter)) (*recorder, string) {
	t.Helper()
	rec := &recorder{answers: answers}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

// fast is a client whose backoff does not slow the tests down.
func fast(extra ...func(*Client)) *Client {
	c := &Client{Provider: "prov", Attempts: 3, BaseDelay: time.Millisecond, MaxWait: 50 * time.Millisecond, Timeout: 2 * time.Second}
	for _, f := range extra {
		f(c)
	}
	return c
}

func TestRetriesTransientFailuresThenSucceeds(t *testing.T) {
	for _, code := range []int{500, 502, 503, 504, 429} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			rec, base := serve(t, status(code), status(code))
			var out struct{ OK bool }
			resp, err := fast().Do(context.Background(), &Request{Method: "GET", URL: base + "/x", What: "get x", Out: &out})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if rec.count() != 3 || resp.Attempts != 3 || !out.OK {
				t.Fatalf("requests %d, attempts %d, decoded %v; want 3, 3, true", rec.count(), resp.Attempts, out.OK)
			}
		})
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	rec, base := serve(t, status(503), status(503), status(503), status(503))
	_, err := fast().Do(context.Background(), &Request{Method: "GET", URL: base, What: "get x"})
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if rec.count() != 3 {
		t.Fatalf("requests = %d, want 3", rec.count())
	}
	if msg := relay.ErrorMessage(err); !strings.Contains(msg, "prov: get x: HTTP 503") {
		t.Fatalf("message %q does not name the provider, the call and the status", msg)
	}
}

func TestOtherClientErrorsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string
	}{{400, relay.EINVALID}, {403, relay.EINVALID}, {404, relay.EINVALID}, {409, relay.EINVALID}, {422, relay.EINVALID}, {401, relay.EUNAUTHORIZED}} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			rec, base := serve(t, status(tc.code))
			resp, err := fast().Do(context.Background(), &Request{Method: "POST", URL: base, What: "create", Body: map[string]int{"a": 1}})
			if relay.ErrorCode(err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			if rec.count() != 1 {
				t.Fatalf("requests = %d, want 1 (never retried)", rec.count())
			}
			if tc.code != 401 && (resp == nil || resp.Status != tc.code) {
				t.Fatalf("a refused answer's Response = %+v, want status %d", resp, tc.code)
			}
		})
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // hang past the attempt's timeout
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	c := fast(func(c *Client) { c.Timeout = 100 * time.Millisecond })
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, What: "slow"})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2 (the timed-out one retried)", resp.Attempts)
	}
}

func TestTransportErrorIsUnavailableWithoutURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/path?access_token=secret-token-value"
	srv.Close() // nothing listens any more
	_, err := fast().Do(context.Background(), &Request{Method: "GET", URL: u, What: "get x"})
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if strings.Contains(err.Error(), "secret-token-value") || strings.Contains(err.Error(), "/path") {
		t.Fatalf("error %q shows the URL", err)
	}
}

func TestShortRetryAfterIsWaitedInPlace(t *testing.T) {
	// A wait the provider names within MaxWait is slept, then retried in
	// the same call (no RetryAt handed back).
	rec, base := serve(t, status(429, "Retry-After", "1"))
	c := fast(func(c *Client) { c.MaxWait = 5 * time.Second })
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if rec.count() != 2 || resp.Attempts != 2 {
		t.Fatalf("requests = %d, attempts %d, want 2", rec.count(), resp.Attempts)
	}
}

func TestLongRetryAfterIsNotSleptButReturned(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ra := range []string{"120", now.Add(2 * time.Minute).Format(http.TimeFormat)} {
		t.Run(ra, func(t *testing.T) {
			rec, base := serve(t, status(503, "Retry-After", ra))
			c := fast(func(c *Client) { c.Now = func() time.Time { return now } })
			_, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
			var e *relay.Error
			if !errors.As(err, &e) || e.Code != relay.EUNAVAILABLE {
				t.Fatalf("err = %v, want EUNAVAILABLE", err)
			}
			if !e.RetryAt.Equal(now.Add(2 * time.Minute)) {
				t.Fatalf("RetryAt = %v, want %v", e.RetryAt, now.Add(2*time.Minute))
			}
			if rec.count() != 1 {
				t.Fatalf("requests = %d, want 1 (a long wait is handed back, not slept)", rec.count())
			}
		})
	}
}

func TestRateLimitResetIsWaitedFor(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reset := strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)
	// GitHub's primary limit: 403 with remaining 0 is a rate limit, and the
	// reset (not an immediate retry) is when to come back.
	rec, base := serve(t, status(403, "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset))
	c := fast(func(c *Client) {
		c.Now = func() time.Time { return now }
		c.RateLimit = EpochRateLimit("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", false)
	})
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "list"})
	var e *relay.Error
	if !errors.As(err, &e) || e.Code != relay.EUNAVAILABLE || !strings.Contains(e.Message, "rate limited") {
		t.Fatalf("err = %v, want a rate-limited EUNAVAILABLE", err)
	}
	if !e.RetryAt.Equal(now.Add(10 * time.Minute)) {
		t.Fatalf("RetryAt = %v, want the reset %v", e.RetryAt, now.Add(10*time.Minute))
	}
	if rec.count() != 1 {
		t.Fatalf("requests = %d, want 1", rec.count())
	}
}

func TestForbiddenWithRemainingIsARefusal(t *testing.T) {
	rec, base := serve(t, status(403, "X-RateLimit-Remaining", "4000", "X-RateLimit-Limit", "5000"))
	c := fast(func(c *Client) {
		c.RateLimit = EpochRateLimit("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", false)
	})
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "get"})
	if relay.ErrorCode(err) != relay.EINVALID || rec.count() != 1 {
		t.Fatalf("err = %v after %d requests, want EINVALID after 1", err, rec.count())
	}
	if !resp.RateLimit.Known || resp.RateLimit.Remaining != 4000 || resp.RateLimit.Limit != 5000 {
		t.Fatalf("rate limit read = %+v", resp.RateLimit)
	}
}

func TestDeferLimitsReturnsAtOnce(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header []string
		want   time.Duration
	}{{nil, time.Second}, {[]string{"Retry-After", "3"}, 3 * time.Second}} {
		rec, base := serve(t, status(429, tc.header...))
		c := fast(func(c *Client) { c.DeferLimits, c.Now = true, func() time.Time { return now } })
		_, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "list"})
		var e *relay.Error
		if !errors.As(err, &e) || e.Code != relay.EUNAVAILABLE {
			t.Fatalf("err = %v, want EUNAVAILABLE", err)
		}
		if !e.RetryAt.Equal(now.Add(tc.want)) || rec.count() != 1 {
			t.Fatalf("RetryAt = %v after %d requests, want %v after 1", e.RetryAt, rec.count(), now.Add(tc.want))
		}
	}
	// A 5xx is still retried in place with DeferLimits.
	rec, base := serve(t, status(502))
	c := fast(func(c *Client) { c.DeferLimits = true })
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "list"}); err != nil || rec.count() != 2 {
		t.Fatalf("err = %v after %d requests, want success after 2", err, rec.count())
	}
}

func TestIdempotencyKeyIsStableAcrossRetries(t *testing.T) {
	rec, base := serve(t, status(500), status(503))
	_, err := fast().Do(context.Background(), &Request{Method: "POST", URL: base, What: "create", Body: map[string]string{"a": "b"}, Idempotent: true})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if rec.count() != 3 {
		t.Fatalf("requests = %d, want 3", rec.count())
	}
	key := rec.requests[0].Header.Get("Idempotency-Key")
	if key == "" {
		t.Fatal("no Idempotency-Key on a create")
	}
	for i, r := range rec.requests {
		if got := r.Header.Get("Idempotency-Key"); got != key {
			t.Fatalf("attempt %d key %q, want %q (the same on every retry)", i+1, got, key)
		}
		if rec.bodies[i] != `{"a":"b"}` {
			t.Fatalf("attempt %d body %q", i+1, rec.bodies[i])
		}
	}
	// A second call is another operation: another key.
	rec2, base2 := serve(t)
	if _, err := fast().Do(context.Background(), &Request{Method: "POST", URL: base2, What: "create", Idempotent: true}); err != nil {
		t.Fatal(err)
	}
	if rec2.requests[0].Header.Get("Idempotency-Key") == key {
		t.Fatal("two operations shared an Idempotency-Key")
	}
}

func TestIdempotencyKeyRules(t *testing.T) {
	rec, base := serve(t, status(503))
	c := fast()
	// A caller's own key is sent as is, on every attempt.
	if _, err := c.Do(context.Background(), &Request{Method: "POST", URL: base, What: "create", IdempotencyKey: "op-42"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.requests {
		if r.Header.Get("Idempotency-Key") != "op-42" {
			t.Fatalf("key = %q, want op-42", r.Header.Get("Idempotency-Key"))
		}
	}
	// Never on a read, even if asked (Bridge forbids it on GET).
	rec2, base2 := serve(t)
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: base2, What: "read", Idempotent: true}); err != nil {
		t.Fatal(err)
	}
	if k := rec2.requests[0].Header.Get("Idempotency-Key"); k != "" {
		t.Fatalf("GET carried Idempotency-Key %q", k)
	}
	// Not on a POST that did not ask for one.
	rec3, base3 := serve(t)
	if _, err := c.Do(context.Background(), &Request{Method: "POST", URL: base3, What: "search"}); err != nil {
		t.Fatal(err)
	}
	if k := rec3.requests[0].Header.Get("Idempotency-Key"); k != "" {
		t.Fatalf("plain POST carried Idempotency-Key %q", k)
	}
}

func TestBodiesAndHeaders(t *testing.T) {
	rec, base := serve(t, status(200), status(200))
	c := fast()
	if _, err := c.Do(context.Background(), &Request{Method: "POST", URL: base, What: "token", Body: url.Values{"code": {"a b"}}}); err != nil {
		t.Fatal(err)
	}
	if ct := rec.requests[0].Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" || rec.bodies[0] != "code=a+b" {
		t.Fatalf("form sent as %q: %q", ct, rec.bodies[0])
	}
	h := http.Header{"Authorization": {"Bearer t"}, "Accept": {"application/vnd.github+json"}}
	if _, err := c.Do(context.Background(), &Request{Method: "POST", URL: base, What: "create", Header: h, Body: []int{1}}); err != nil {
		t.Fatal(err)
	}
	r := rec.requests[1]
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer t" ||
		r.Header.Get("Accept") != "application/vnd.github+json" || rec.bodies[1] != "[1]" {
		t.Fatalf("headers %v body %q", r.Header, rec.bodies[1])
	}
}

func TestMalformedAnswerIsUnavailable(t *testing.T) {
	_, base := serve(t, func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"not json`)) }, func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"not json`)) })
	var out map[string]any
	_, err := fast(func(c *Client) { c.Attempts = 1 }).Do(context.Background(), &Request{Method: "GET", URL: base, What: "get", Out: &out})
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || !strings.Contains(relay.ErrorMessage(err), "malformed answer") {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelledContextStopsTheWait(t *testing.T) {
	rec, base := serve(t, status(503), status(503), status(503))
	c := fast(func(c *Client) { c.BaseDelay, c.MaxWait = time.Hour, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Do(ctx, &Request{Method: "GET", URL: base, What: "get"}); done <- err }()
	for rec.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if relay.ErrorCode(err) != relay.EUNAVAILABLE {
			t.Fatalf("err = %v, want the last failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do kept waiting after its context ended")
	}
	if rec.count() != 1 {
		t.Fatalf("requests = %d, want 1", rec.count())
	}
}

func TestRedirectsStayOnTheProvidersHost(t *testing.T) {
	// Another host records whatever reaches it.
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Api-Key"))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(other.Close)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) // another host name, too
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, otherURL+"/steal", http.StatusFound) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/here", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"key": r.Header.Get("Api-Key")})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h := http.Header{"Api-Key": {"sk-live-secret"}}

	resp, err := fast().Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/away", What: "get", Header: h})
	if relay.ErrorCode(err) != relay.EINVALID || resp == nil || resp.Status != http.StatusFound {
		t.Fatalf("redirect to another host: err = %v, resp = %+v; want a refused 302", err, resp)
	}
	if got := leaked.Load().(string); got != "" {
		t.Fatalf("the API key reached another host: %q", got)
	}

	var out struct{ Key string }
	if _, err := fast().Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/moved", What: "get", Header: h, Out: &out}); err != nil {
		t.Fatalf("same-host redirect: %v", err)
	}
	if out.Key != "sk-live-secret" {
		t.Fatalf("same-host redirect lost the header: %q", out.Key)
	}

	resp, err = fast(func(c *Client) { c.NoRedirects = true }).Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/moved", What: "get", Header: h})
	if relay.ErrorCode(err) != relay.EINVALID || resp.Status != http.StatusMovedPermanently {
		t.Fatalf("NoRedirects: err = %v, resp = %+v; want a refused 301", err, resp)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"7", 7 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		if got := RetryAfter(h, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestEpochRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{"L": {"100"}, "R": {"7"}, "T": {strconv.FormatInt(now.Add(time.Minute).Unix(), 10)}}
	rl := EpochRateLimit("L", "R", "T", false)(h, now)
	if !rl.Known || rl.Limit != 100 || rl.Remaining != 7 || !rl.Reset.Equal(now.Add(time.Minute)) {
		t.Fatalf("epoch: %+v", rl)
	}
	h.Set("T", "30")
	rl = EpochRateLimit("L", "R", "T", true)(h, now)
	if !rl.Reset.Equal(now.Add(30 * time.Second)) {
		t.Fatalf("delta reset = %v", rl.Reset)
	}
	if rl := EpochRateLimit("L", "R", "T", false)(http.Header{}, now); rl.Known {
		t.Fatalf("no headers read as known: %+v", rl)
	}
}

// A *json.RawMessage gets the answer's bytes as they came, once checked.
func TestRawAnswer(t *testing.T) {
	_, base := serve(t, func(w http.ResponseWriter) { _, _ = w.Write([]byte(`[{"id": 1}, {"id": "x"}]` + "\n")) },
		func(w http.ResponseWriter) { _, _ = w.Write([]byte(`[{"id": 1},`)) })
	c := fast(func(c *Client) { c.Attempts = 1 })
	var raw json.RawMessage
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "get", Out: &raw}); err != nil {
		t.Fatal(err)
	}
	if string(raw) != `[{"id": 1}, {"id": "x"}]`+"\n" {
		t.Fatalf("raw answer %q", raw)
	}
	raw = nil
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: base, What: "get", Out: &raw})
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || !strings.Contains(relay.ErrorMessage(err), "malformed answer") || raw != nil {
		t.Fatalf("truncated answer: %v, raw %q", err, raw)
	}
}
