package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhq/relay/simulator"
)

// webhook is one pre-signed GitHub webhook body.
type webhook struct {
	body []byte
	sig  string
}

// Payloads returns n distinct ~2 KB GitHub `issues` bodies signed with
// secret. Signing happens once here, so the load generator spends its CPU on
// sending, as a real provider's fleet would.
func Payloads(secret string, n int) []webhook {
	out := make([]webhook, n)
	for i := range out {
		body := simulator.GitHubIssuesPayload(4242, int64(1000+i), "opened")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		out[i] = webhook{body: body, sig: "sha256=" + hex.EncodeToString(mac.Sum(nil))}
	}
	return out
}

// Result is what one load run measured.
type Result struct {
	Sent      int64
	Accepted  int64 // 202
	Duplicate int64 // 200
	Failed    int64 // anything else, or no answer
	Elapsed   time.Duration
	Latencies []time.Duration // of accepted requests, sorted
	Acked     []string        // delivery ids answered 202
	FirstSend time.Time
}

// Rate is accepted requests per second.
func (r *Result) Rate() float64 { return float64(r.Accepted) / r.Elapsed.Seconds() }

// Percentile returns the p-th percentile (0..100) of accepted latencies.
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies)-1) * p / 100)
	return r.Latencies[i]
}

// Loader sends webhooks to one or more targets, round-robin.
type Loader struct {
	Targets  []string // full URLs of /webhooks/github
	Payloads []webhook
	Prefix   string // delivery id prefix, unique per run
	client   *http.Client
	next     atomic.Int64
}

// NewLoader returns a loader with a keep-alive client sized for conns.
func NewLoader(targets []string, payloads []webhook, prefix string, conns int) *Loader {
	return &Loader{Targets: targets, Payloads: payloads, Prefix: prefix, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			DisableCompression:  true,
		},
	}}
}

// one sends webhook number n and returns the status (0 on a transport error).
func (l *Loader) one(n int64) (int, string) {
	w := l.Payloads[n%int64(len(l.Payloads))]
	id := l.Prefix + strconv.FormatInt(n, 10)
	req, _ := http.NewRequest(http.MethodPost, l.Targets[n%int64(len(l.Targets))], bytes.NewReader(w.body))
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{"GitHub-Hookshot/bench"}
	req.Header["X-Github-Event"] = []string{"issues"}
	req.Header["X-Github-Delivery"] = []string{id}
	req.Header["X-Hub-Signature-256"] = []string{w.sig}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, id
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, id
}

type workerStats struct {
	sent, accepted, dup, failed int64
	lat                         []time.Duration
	acked                       []string
}

func (r *Result) merge(ws []*workerStats) {
	for _, w := range ws {
		r.Sent += w.sent
		r.Accepted += w.accepted
		r.Duplicate += w.dup
		r.Failed += w.failed
		r.Latencies = append(r.Latencies, w.lat...)
		r.Acked = append(r.Acked, w.acked...)
	}
	slices.Sort(r.Latencies)
}

func (w *workerStats) record(code int, id string, lat time.Duration) {
	w.sent++
	switch code {
	case http.StatusAccepted:
		w.accepted++
		w.lat = append(w.lat, lat)
		w.acked = append(w.acked, id)
	case http.StatusOK:
		w.dup++
	default:
		w.failed++
	}
}

// ClosedLoop runs conc workers, each sending as fast as answers come, until
// total requests are sent or d has passed (whichever is set and first).
func (l *Loader) ClosedLoop(ctx context.Context, conc int, total int64, d time.Duration) *Result {
	res := &Result{FirstSend: time.Now()}
	deadline := time.Time{}
	if d > 0 {
		deadline = res.FirstSend.Add(d)
	}
	stats := make([]*workerStats, conc)
	var wg sync.WaitGroup
	for i := range conc {
		stats[i] = &workerStats{}
		wg.Add(1)
		go func(ws *workerStats) {
			defer wg.Done()
			for ctx.Err() == nil {
				n := l.next.Add(1) - 1
				if total > 0 && n >= total {
					return
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				start := time.Now()
				code, id := l.one(n)
				ws.record(code, id, time.Since(start))
			}
		}(stats[i])
	}
	wg.Wait()
	res.Elapsed = time.Since(res.FirstSend)
	res.merge(stats)
	return res
}

// OpenLoop sends at a fixed rate for d, whatever the answers' pace. Latency
// is measured from each request's scheduled start, so a stall is charged to
// every request it delays (no coordinated omission).
func (l *Loader) OpenLoop(ctx context.Context, rate int, d time.Duration, maxConc int) *Result {
	res := &Result{FirstSend: time.Now()}
	total := int64(float64(rate) * d.Seconds())
	type job struct {
		n        int64
		intended time.Time
	}
	jobs := make(chan job, maxConc*4)
	stats := make([]*workerStats, maxConc)
	var wg sync.WaitGroup
	for i := range maxConc {
		stats[i] = &workerStats{}
		wg.Add(1)
		go func(ws *workerStats) {
			defer wg.Done()
			for j := range jobs {
				code, id := l.one(j.n)
				ws.record(code, id, time.Since(j.intended))
			}
		}(stats[i])
	}
	interval := time.Duration(float64(time.Second) / float64(rate))
	for i := range total {
		if ctx.Err() != nil {
			break
		}
		intended := res.FirstSend.Add(time.Duration(i) * interval)
		if wait := time.Until(intended); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- job{n: l.next.Add(1) - 1, intended: intended}
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(res.FirstSend)
	res.merge(stats)
	return res
}

// String summarises a result on one line.
func (r *Result) String() string {
	return fmt.Sprintf("sent %d, accepted %d (%.0f/s), duplicate %d, failed %d; ack latency p50 %s p99 %s p99.9 %s",
		r.Sent, r.Accepted, r.Rate(), r.Duplicate, r.Failed,
		r.Percentile(50).Round(10*time.Microsecond), r.Percentile(99).Round(10*time.Microsecond), r.Percentile(99.9).Round(10*time.Microsecond))
}
