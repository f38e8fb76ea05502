package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxResponseBody is how much of a destination's answer is kept per attempt.
const maxResponseBody = 1024

// signer signs envelopes with a destination's secret and, during the
// overlap of a rotation, with its previous secret too.
type signer struct {
	secret, previous string
	previousUntil    time.Time
	wh, prev         *standardwebhooks.Webhook // prev is nil without a previous secret
}

func newSigner(d *relay.Destination) (*signer, error) {
	wh, err := standardwebhooks.NewWebhook(d.Secret)
	if err != nil {
		return nil, fmt.Errorf("destination secret: %w", err)
	}
	s := &signer{secret: d.Secret, previous: d.PreviousSecret, previousUntil: d.PreviousSecretUntil, wh: wh}
	if d.PreviousSecret != "" {
		// A previous secret that does not parse only loses its signature:
		// the current one still signs.
		s.prev, _ = standardwebhooks.NewWebhook(d.PreviousSecret)
	}
	return s, nil
}

// signsFor reports whether s signs with d's secrets as they are now.
func (s *signer) signsFor(d *relay.Destination) bool {
	return s.secret == d.Secret && s.previous == d.PreviousSecret && s.previousUntil.Equal(d.PreviousSecretUntil)
}

// sign returns the webhook-signature of an envelope: "v1,<sig>", or
// "v1,<new> v1,<previous>" until the rotation's overlap ends (Standard
// Webhooks lets a header carry several signatures; a consumer accepts the
// message when one of them verifies with its secret).
func (s *signer) sign(id string, now time.Time, payload []byte) (string, error) {
	sig, err := s.wh.Sign(id, now, payload)
	if err != nil || s.prev == nil || !now.Before(s.previousUntil) {
		return sig, err
	}
	old, err := s.prev.Sign(id, now, payload)
	if err != nil {
		return "", err
	}
	return sig + " " + old, nil
}

// attempt sends one delivery and works out what follows.
func (e *Engine) attempt(c *relay.Claim, s *signer) *result {
	d := c.Delivery
	started := e.now()
	r := &result{claim: c, received: c.Event.ReceivedAt}

	status, body, retryAfter, err := e.send(c, s, started)
	latency := e.now().Sub(started)
	if errors.Is(err, errShutdown) {
		r.release = true
		return r
	}
	e.metrics.DeliveryLatency.Observe(latency.Seconds())

	o := &relay.Outcome{Owner: e.cfg.Owner, LeaseUntil: d.NextAttemptAt, Attempt: relay.Attempt{
		DeliveryID: d.ID, N: d.Attempts + 1, StartedAt: started, StatusCode: status,
		Latency: relay.Duration(latency), ResponseBody: body,
	}}
	r.outcome = o
	switch {
	case err != nil:
		o.Attempt.Error = err.Error()
		e.metrics.DeliveryAttempts.WithLabelValues(metrics.AttemptError).Inc()
	case status >= 200 && status < 300:
		o.Status, o.Step = relay.DeliverySucceeded, d.Step+1
		e.metrics.DeliveryAttempts.WithLabelValues(metrics.AttemptSuccess).Inc()
		return r
	case status == http.StatusGone:
		// The endpoint says it is gone for good: stop sending to it until an
		// operator enables it again.
		o.Attempt.Error = "HTTP 410 Gone"
		o.Status, o.Step = relay.DeliveryDead, d.Step+1
		o.DisableDestination = fmt.Sprintf("destination answered 410 Gone at %s", started.Format(time.RFC3339))
		e.metrics.DeliveryAttempts.WithLabelValues(metrics.AttemptGone).Inc()
		return r
	default:
		o.Attempt.Error = "HTTP " + strconv.Itoa(status)
		e.metrics.DeliveryAttempts.WithLabelValues(metrics.AttemptFailure).Inc()
	}

	// A failed attempt: next step of the schedule, or dead.
	o.Step = d.Step + 1
	if o.Step >= len(e.cfg.Schedule) {
		o.Status = relay.DeliveryDead
		return r
	}
	wait := e.jittered(e.cfg.Schedule[o.Step])
	if retryAfter > wait {
		wait = retryAfter // never sooner than the destination asked
	}
	o.Status, o.NextAttemptAt = relay.DeliveryRetrying, e.now().Add(wait)
	return r
}

// send makes one signed POST. It returns the status (0 without an answer),
// the start of the answer's body, the Retry-After of a 429/503, and a
// transport error.
func (e *Engine) send(c *relay.Claim, s *signer, now time.Time) (int, string, time.Duration, error) {
	if s == nil {
		return 0, "", 0, errors.New("destination secret is not a valid whsec_ secret")
	}
	payload := Envelope(c.Event, c.Delivery.Source)
	sig, err := s.sign(c.Event.ID, now, payload)
	if err != nil {
		return 0, "", 0, fmt.Errorf("sign: %w", err)
	}
	timeout := time.Duration(c.Destination.Timeout)
	if timeout <= 0 {
		timeout = relay.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(e.sendCtx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Destination.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, "", 0, fmt.Errorf("bad destination URL: %w", err)
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{"Relay/" + relay.Version}
	h["Webhook-Id"] = []string{c.Event.ID}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
	h["Webhook-Signature"] = []string{sig}

	resp, err := e.client.Do(req)
	if err != nil {
		if e.sendCtx.Err() != nil {
			return 0, "", 0, errShutdown
		}
		return 0, "", 0, describeTransportError(err, timeout)
	}
	defer resp.Body.Close()
	buf := make([]byte, maxResponseBody)
	n, _ := io.ReadFull(resp.Body, buf)
	// Drain a little more so the connection can be reused; give up on huge answers.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return resp.StatusCode, validUTF8(buf[:n]), retryAfter, nil
}

// describeTransportError says what went wrong without the URL (which may
// carry credentials in its query).
func describeTransportError(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timeout: no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timeout: %v", err)
	}
	return fmt.Errorf("connection error: %v", err)
}

// maxRetryAfter caps how long a Retry-After can postpone a delivery.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}
