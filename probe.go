package relay

import "context"

// WriteProber is implemented by a Store that can check cheaply whether it
// can store events now. Readiness needs it: after commits failed (a full
// disk), a load balancer sends no more webhooks to an unready replica, so
// only a probe can tell that storing works again.
type WriteProber interface {
	// ProbeWrite makes a small durable write that needs what storing a
	// batch of events needs (free pages, room for the log). It returns the
	// store's error when that write fails.
	ProbeWrite(ctx context.Context) error
}
