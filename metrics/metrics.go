// Package metrics holds Relay's Prometheus collectors on a registry of its
// own (no global state), shared by ingest, delivery and the HTTP server.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Ingest outcomes, the "outcome" label of relay_ingest_requests_total.
const (
	OutcomeAccepted    = "accepted"
	OutcomeDuplicate   = "duplicate"
	OutcomeUnverified  = "unverified"
	OutcomeInvalid     = "invalid"
	OutcomeTooLarge    = "too_large"
	OutcomeUnavailable = "unavailable"
	OutcomeUnknown     = "unknown_provider"
)

// Delivery attempt outcomes, the "outcome" label of relay_delivery_attempts_total.
const (
	AttemptSuccess = "success"    // 2xx
	AttemptFailure = "http_error" // non-2xx answer
	AttemptError   = "transport"  // no answer: connection error or timeout
	AttemptGone    = "gone"       // 410: destination disabled
)

// Metrics is the set of collectors Relay exports at /metrics.
type Metrics struct {
	Registry *prometheus.Registry

	IngestRequests    *prometheus.CounterVec // provider, outcome
	VerifyFailures    *prometheus.CounterVec // provider
	Duplicates        *prometheus.CounterVec // provider
	CommitBatchSize   prometheus.Histogram   // events per group commit
	CommitDuration    prometheus.Histogram   // seconds per group commit
	DeliveryAttempts  *prometheus.CounterVec // outcome
	DeliveryLatency   prometheus.Histogram   // seconds per attempt
	DeliveryEndToEnd  prometheus.Histogram   // seconds from receipt to successful delivery
	DeliveriesDead    prometheus.Counter     // deliveries that exhausted their schedule
	DestinationPauses prometheus.Counter     // circuit breaker openings
	QueueDepth        prometheus.Gauge       // pending + retrying deliveries
	InFlight          prometheus.Gauge       // deliveries held in memory by this replica
	BlockedKeys       *prometheus.GaugeVec   // destination: ordered keys held back by a failing head
	BlockedOldest     *prometheus.GaugeVec   // destination: seconds the longest-blocked key has waited

	BackfillPages  *prometheus.CounterVec // provider: pages committed
	BackfillItems  *prometheus.CounterVec // provider: items committed (new events)
	BackfillWaits  *prometheus.CounterVec // provider, reason (rate_limit, backpressure)
	BackfillErrors *prometheus.CounterVec // provider: failed page fetches

	Resolutions       *prometheus.CounterVec // provider, outcome: identity resolutions run
	OperationalEvents *prometheus.CounterVec // type: Relay's own events emitted

	RetentionDeleted     *prometheus.CounterVec // kind: rows retention deleted
	RetentionLastSuccess prometheus.Gauge       // unix time of the last complete retention pass
	DatabaseSize         prometheus.Gauge       // bytes (sampled by retention)
}

// New returns a fresh set of collectors registered on their own registry,
// with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		IngestRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_ingest_requests_total", Help: "Webhook requests received, by provider and outcome.",
		}, []string{"provider", "outcome"}),
		VerifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_ingest_verification_failures_total", Help: "Webhooks rejected for a bad or missing signature or a stale timestamp.",
		}, []string{"provider"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_ingest_duplicates_total", Help: "Webhooks whose delivery id was already stored.",
		}, []string{"provider"}),
		CommitBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_ingest_commit_batch_size", Help: "Events stored per group commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		CommitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_ingest_commit_seconds", Help: "Duration of one group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		DeliveryAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_delivery_attempts_total", Help: "Delivery attempts, by outcome.",
		}, []string{"outcome"}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_delivery_attempt_seconds", Help: "Duration of one delivery attempt (request to response).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		DeliveryEndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "relay_delivery_end_to_end_seconds", Help: "Time from receiving an event to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 14),
		}),
		DeliveriesDead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_deliveries_dead_total", Help: "Deliveries that ended dead (schedule exhausted or destination gone).",
		}),
		DestinationPauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_destination_pauses_total", Help: "Times a failing destination was paused by its circuit breaker.",
		}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_delivery_queue_depth", Help: "Deliveries pending or retrying (all replicas; sampled).",
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "relay_delivery_in_memory", Help: "Deliveries this replica holds in memory (queued or being sent).",
		}),
		BlockedKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "relay_ordering_blocked_keys", Help: "Ordered keys whose head delivery is retrying (or dead, with on_dead block), by destination (sampled; at most 10000).",
		}, []string{"destination"}),
		BlockedOldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "relay_ordering_oldest_blocked_seconds", Help: "Age of the head delivery of the longest-blocked ordered key, by destination (sampled; 0 when none).",
		}, []string{"destination"}),
		BackfillPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_backfill_pages_total", Help: "Backfill pages committed, by provider.",
		}, []string{"provider"}),
		BackfillItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_backfill_items_total", Help: "Backfilled items stored as new events, by provider.",
		}, []string{"provider"}),
		BackfillWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_backfill_waits_total", Help: "Times a backfill task waited, by provider and reason (rate_limit, backpressure).",
		}, []string{"provider", "reason"}),
		BackfillErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_backfill_errors_total", Help: "Failed backfill page fetches, by provider.",
		}, []string{"provider"}),
		Resolutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_resolutions_total", Help: "Resolutions of unknown provider accounts, by provider and outcome.",
		}, []string{"provider", "outcome"}),
		OperationalEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_operational_events_total", Help: "Relay's own operational events emitted, by type.",
		}, []string{"type"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.IngestRequests, m.VerifyFailures, m.Duplicates, m.CommitBatchSize, m.CommitDuration,
		m.DeliveryAttempts, m.DeliveryLatency, m.DeliveryEndToEnd, m.DeliveriesDead, m.DestinationPauses, m.QueueDepth, m.InFlight,
		m.BlockedKeys, m.BlockedOldest,
		m.BackfillPages, m.BackfillItems, m.BackfillWaits, m.BackfillErrors, m.Resolutions, m.OperationalEvents,
	)
	m.registerRetention()
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
