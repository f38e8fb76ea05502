package simulator

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// calls counts each simulated endpoint's requests and holds the failures
// a test asked it to inject; every provider simulator embeds one.
type calls struct {
	cmu   sync.Mutex
	count map[string]int
	fail  map[string][]int
}

// Calls returns how many requests the named endpoint answered.
func (c *calls) Calls(endpoint string) int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.count[endpoint]
}

// FailNext makes the named endpoint answer status to its next n requests.
func (c *calls) FailNext(endpoint string, status, n int) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fail == nil {
		c.fail = map[string][]int{}
	}
	for range n {
		c.fail[endpoint] = append(c.fail[endpoint], status)
	}
}

// take counts a request and returns the failure status to answer, or 0.
func (c *calls) take(endpoint string) int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.count == nil {
		c.count = map[string]int{}
	}
	c.count[endpoint]++
	if f := c.fail[endpoint]; len(f) > 0 {
		c.fail[endpoint] = f[1:]
		return f[0]
	}
	return 0
}

// rateHeaders names a provider's rate-limit headers.
type rateHeaders struct {
	limit, remaining, reset string
	resetIsDelta            bool   // reset is seconds from now (Persona), else a Unix time
	status                  int    // answered past the limit (429, or GitHub's 403)
	body                    string // the answer past the limit; a JSON message when ""
}

// apiLimits is the rate limit and the slow/limited answers a simulator's
// API endpoints share. The window is real time: clients wait on it.
type apiLimits struct {
	lmu        sync.Mutex
	limit      int
	window     time.Duration
	used       int
	reset      time.Time
	overLimit  int
	retryAfter map[string][]time.Duration
	delay      map[string][]time.Duration
}

// SetRateLimit allows limit API requests per window (0 turns the limit off).
// Every answer carries the provider's rate-limit headers; a request past the
// limit is answered with the provider's limit status and counted by
// OverLimit.
func (a *apiLimits) SetRateLimit(limit int, window time.Duration) {
	a.lmu.Lock()
	defer a.lmu.Unlock()
	a.limit, a.window, a.used, a.reset = limit, window, 0, time.Time{}
}

// OverLimit returns how many requests arrived after the limit was used up.
func (a *apiLimits) OverLimit() int {
	a.lmu.Lock()
	defer a.lmu.Unlock()
	return a.overLimit
}

// RateLimitNext answers the endpoint's next n requests 429 with Retry-After
// set to after (whole seconds, at least 1).
func (a *apiLimits) RateLimitNext(endpoint string, n int, after time.Duration) {
	a.lmu.Lock()
	defer a.lmu.Unlock()
	if a.retryAfter == nil {
		a.retryAfter = map[string][]time.Duration{}
	}
	for range n {
		a.retryAfter[endpoint] = append(a.retryAfter[endpoint], after)
	}
}

// DelayNext makes the endpoint's next n requests wait d before answering
// (a timeout for a client with a shorter deadline).
func (a *apiLimits) DelayNext(endpoint string, n int, d time.Duration) {
	a.lmu.Lock()
	defer a.lmu.Unlock()
	if a.delay == nil {
		a.delay = map[string][]time.Duration{}
	}
	for range n {
		a.delay[endpoint] = append(a.delay[endpoint], d)
	}
}

// admit applies delays, injected 429s and the rate limit to one API request
// and writes the rate-limit headers. It returns false when it answered the
// request itself.
func (a *apiLimits) admit(w http.ResponseWriter, r *http.Request, endpoint string, h rateHeaders) bool {
	a.lmu.Lock()
	var delay, retry time.Duration
	if d := a.delay[endpoint]; len(d) > 0 {
		delay, a.delay[endpoint] = d[0], d[1:]
	}
	if d := a.retryAfter[endpoint]; len(d) > 0 {
		retry, a.retryAfter[endpoint] = d[0], d[1:]
	}
	now := time.Now()
	limited := false
	var limit, remaining int
	var reset time.Time
	if a.limit > 0 {
		if a.reset.IsZero() || !now.Before(a.reset) {
			a.used, a.reset = 0, now.Add(a.window)
		}
		if a.used >= a.limit {
			limited = true
			a.overLimit++
		} else {
			a.used++
		}
		limit, remaining, reset = a.limit, a.limit-a.used, a.reset
	}
	a.lmu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	if limit > 0 {
		w.Header().Set(h.limit, strconv.Itoa(limit))
		w.Header().Set(h.remaining, strconv.Itoa(remaining))
		if h.resetIsDelta {
			w.Header().Set(h.reset, strconv.Itoa(int(math.Ceil(time.Until(reset).Seconds()))))
		} else {
			w.Header().Set(h.reset, strconv.FormatInt(int64(math.Ceil(float64(reset.UnixMilli())/1000)), 10))
		}
	}
	switch {
	case retry > 0:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
		http.Error(w, `{"message":"rate limited"}`, http.StatusTooManyRequests)
		return false
	case limited:
		st := h.status
		if st == 0 {
			st = http.StatusTooManyRequests
		}
		body := h.body
		if body == "" {
			body = `{"message":"API rate limit exceeded"}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		_, _ = io.WriteString(w, body+"\n")
		return false
	}
	return true
}
