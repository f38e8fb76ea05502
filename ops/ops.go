// Package ops emits Relay's own operational events (relay.connection.paired,
// relay.pairing.ambiguous, relay.delivery.exhausted, …): each is stored as
// an event of provider "relay" and delivered, signed like every event, to
// the destinations that subscribe to them, logged, and counted.
package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// Provider is the provider name operational events carry.
const Provider = "relay"

// Operational event types.
const (
	ConnectionPaired     = "relay.connection.paired"
	PairingAmbiguous     = "relay.pairing.ambiguous"
	PairingAlreadyPaired = "relay.pairing.already_paired"
	PairingOrgNotFound   = "relay.pairing.org_not_found"
	DeliveryExhausted    = "relay.delivery.exhausted"
	ConnectionRevoked    = "relay.connection.revoked"
)

// Store is what the emitter needs of storage.
type Store interface {
	InsertEvents(ctx context.Context, items []*relay.IngestItem) error
}

// Emitter stores and routes operational events. Its zero value is not
// usable; build it with New.
type Emitter struct {
	queue   chan pending // EmitLater's events, stored by Run
	store   Store
	route   func(*relay.Event) []*relay.Destination
	wake    func()
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
}

// New returns an emitter routing through route (the delivery engine's) and
// waking the engine after each event (wake may be nil).
func New(store Store, route func(*relay.Event) []*relay.Destination, wake func(), m *metrics.Metrics, logger *slog.Logger, now func() time.Time) *Emitter {
	if wake == nil {
		wake = func() {}
	}
	return &Emitter{store: store, route: route, wake: wake, metrics: m, logger: logger, now: now, queue: make(chan pending, 1024)}
}

type pending struct {
	typ, key, orgID, connectionID string
	data                          any
}

// EmitLater queues an event for Run to emit, for callers that must not
// wait on the store (the delivery recorder). It never blocks: when Run is
// 1,024 events behind, the event is dropped and logged. What it announces
// is stored durably elsewhere (a dead delivery stays queryable).
func (e *Emitter) EmitLater(typ, key, orgID, connectionID string, data any) {
	select {
	case e.queue <- pending{typ, key, orgID, connectionID, data}:
	default:
		e.logger.Warn("ops: operational event dropped: the emitter is behind", "type", typ)
	}
}

// Run emits the events EmitLater queued until ctx ends, each with its own
// timeout; a failure is logged and the event dropped.
func (e *Emitter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-e.queue:
			ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := e.Emit(ectx, p.typ, p.key, p.orgID, p.connectionID, p.data); err != nil {
				e.logger.Warn("ops: emitting an operational event failed", "type", p.typ, "err", err)
			}
			cancel()
		}
	}
}

// Subscribed reports whether d asked for operational events: by naming
// provider "relay" or an event type pattern starting with "relay.". A
// destination without filters receives every provider's events but not
// Relay's own.
func Subscribed(d *relay.Destination) bool {
	for _, p := range d.Providers {
		if p == Provider {
			return true
		}
	}
	for _, g := range d.EventTypes {
		if strings.HasPrefix(g, "relay.") {
			return true
		}
	}
	return false
}

// Emit stores one operational event of type typ and queues its deliveries.
// key makes it unique: the same (typ, key) twice is stored once, so a
// retried job does not announce the same thing twice. data is the
// payload's "data"; it must never hold a secret or a provider payload.
// An event with an org goes to destinations of that org (and unfiltered
// ones) only. Errors are the store's.
func (e *Emitter) Emit(ctx context.Context, typ, key, orgID, connectionID string, data any) error {
	now := e.now()
	body, err := json.Marshal(map[string]any{"type": typ, "created_at": now.UTC(), "data": data})
	if err != nil {
		return fmt.Errorf("ops: %s: %w", typ, err)
	}
	ev := &relay.Event{ID: relay.NewID("evt", now), Provider: Provider, DeliveryID: typ + ":" + key, EventType: typ,
		Source: relay.SourceLive, OrgID: orgID, ConnectionID: connectionID, Payload: body, ReceivedAt: relay.EventTime(now)}
	if orgID != "" {
		ev.Match = relay.MatchMatched
	}
	var dsts []*relay.Destination
	for _, d := range e.route(ev) {
		if Subscribed(d) {
			dsts = append(dsts, d)
		}
	}
	it := relay.PlanEvent(ev, dsts, now)
	if err := e.store.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
		return fmt.Errorf("ops: %s: %w", typ, err)
	}
	e.metrics.OperationalEvents.WithLabelValues(typ).Inc()
	e.logger.Info("operational event", "type", typ, "org_id", orgID, "connection_id", connectionID, "destinations", len(it.Deliveries))
	if len(it.Deliveries) > 0 {
		e.wake()
	}
	return nil
}
