package metrics

import "github.com/prometheus/client_golang/prometheus"

// Kinds of rows retention deletes, the "kind" label of relay_retention_deleted_total.
const (
	DeletedEvents     = "events"     // events past retention.max_age
	DeletedDeliveries = "deliveries" // their deliveries
	DeletedAttempts   = "attempts"   // their deliveries' attempts
	DeletedHeld       = "held"       // held events past retention.held_max_age
)

// registerRetention creates and registers retention's collectors.
func (m *Metrics) registerRetention() {
	m.RetentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relay_retention_deleted_total",
		Help: "Rows deleted by retention, by kind (events, deliveries, attempts, held).",
	}, []string{"kind"})
	m.RetentionLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "relay_retention_last_success_timestamp_seconds",
		Help: "Unix time at which this replica last completed a retention pass (0: never; a replica that found another pruning does not advance it).",
	})
	m.DatabaseSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "relay_database_size_bytes",
		Help: "Size of the database: the SQLite file and its WAL, or pg_database_size (sampled each retention interval).",
	})
	for _, k := range []string{DeletedEvents, DeletedDeliveries, DeletedAttempts, DeletedHeld} {
		m.RetentionDeleted.WithLabelValues(k)
	}
	m.Registry.MustRegister(m.RetentionDeleted, m.RetentionLastSuccess, m.DatabaseSize)
}
