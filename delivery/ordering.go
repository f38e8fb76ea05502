package delivery

import (
	"context"

	"github.com/relayhq/relay"
)

// blockedKeysSampled caps the keys counted per destination for the
// metrics: past it the gauge says "many", and the API lists them.
const blockedKeysSampled = 10000

// sampleBlockedKeys sets the blocked-key gauges of every ordered
// destination. Unordered destinations have none and are not queried.
func (e *Engine) sampleBlockedKeys(ctx context.Context) {
	now := e.now()
	for _, d := range e.Routes() {
		if d.Ordering == "" || d.Ordering == relay.OrderingNone {
			e.metrics.BlockedKeys.DeleteLabelValues(d.Name)
			e.metrics.BlockedOldest.DeleteLabelValues(d.Name)
			continue
		}
		keys, err := e.store.BlockedKeys(ctx, d.ID, blockedKeysSampled)
		if err != nil {
			e.logger.Warn("sampling blocked keys failed", "destination_id", d.ID, "err", err)
			continue
		}
		oldest := 0.0
		if len(keys) > 0 {
			oldest = now.Sub(keys[0].Since).Seconds() // longest blocked first
		}
		e.metrics.BlockedKeys.WithLabelValues(d.Name).Set(float64(len(keys)))
		e.metrics.BlockedOldest.WithLabelValues(d.Name).Set(oldest)
	}
}
