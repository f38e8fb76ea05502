package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// ingestTimeout bounds how long a webhook waits for its commit. GitHub gives
// up after 10 s, Sentry after 1 s; an answer is better than none.
const ingestTimeout = 8 * time.Second

type webhookAnswer struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// handleWebhook verifies, parses and durably stores one webhook, answering
// 202 (stored), 200 (duplicate), 401, 413, 400, 404 or 503.
func (s *Server) handleWebhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("provider")
		p, ok := s.providers[name]
		if !ok {
			s.metrics.IngestRequests.WithLabelValues("", metrics.OutcomeUnknown).Inc()
			writeError(w, r, s.logger, relay.Errorf(relay.ENOTFOUND, "Unknown provider or source %q.", name))
			return
		}
		outcome := func(o string) { s.metrics.IngestRequests.WithLabelValues(name, o).Inc() }

		body, err := readBody(w, r, s.cfg.MaxBodyBytes)
		if err != nil {
			if relay.ErrorCode(err) == relay.ETOOLARGE {
				outcome(metrics.OutcomeTooLarge)
			} else {
				outcome(metrics.OutcomeInvalid)
			}
			writeError(w, r, s.logger, err)
			return
		}
		req := &relay.WebhookRequest{Header: r.Header, Body: body, ReceivedAt: s.now()}
		if err := p.Verify(req); err != nil {
			if relay.ErrorCode(err) == relay.EUNAUTHORIZED {
				outcome(metrics.OutcomeUnverified)
				s.metrics.VerifyFailures.WithLabelValues(name).Inc()
				s.logger.Debug("webhook rejected", "provider", name, "reason", relay.ErrorMessage(err))
			} else {
				outcome(metrics.OutcomeInvalid)
			}
			writeError(w, r, s.logger, err)
			return
		}
		in, err := p.Parse(req)
		if err != nil {
			outcome(metrics.OutcomeInvalid)
			writeError(w, r, s.logger, err)
			return
		}
		ev := &relay.Event{
			Provider: name, DeliveryID: in.DeliveryID, EventType: in.EventType, Source: relay.SourceLive,
			AccountID: in.AccountID, ResourceID: in.ResourceID,
			Headers: keepHeaders(r.Header, p.Headers()), Payload: body, ReceivedAt: req.ReceivedAt,
		}
		ctx, cancel := context.WithTimeout(r.Context(), ingestTimeout)
		res, err := s.ingest.Submit(ctx, ev)
		cancel()
		if err != nil {
			outcome(metrics.OutcomeUnavailable)
			if relay.ErrorCode(err) != relay.EUNAVAILABLE {
				err = relay.Errorf(relay.EUNAVAILABLE, "The event could not be stored; retry later.")
			}
			writeError(w, r, s.logger, err)
			return
		}
		if res.Duplicate {
			outcome(metrics.OutcomeDuplicate)
			s.metrics.Duplicates.WithLabelValues(name).Inc()
			writeJSON(w, http.StatusOK, webhookAnswer{ID: res.EventID, Duplicate: true})
			return
		}
		outcome(metrics.OutcomeAccepted)
		writeJSON(w, http.StatusAccepted, webhookAnswer{ID: res.EventID})
		s.applyLifecycle(r.Context(), p, in, body)
	})
}

// applyLifecycle updates the connection a provider's lifecycle webhook is
// about (uninstalled, suspended, repositories added, …), after the answer:
// the event is stored either way, and a failure here is only logged.
func (s *Server) applyLifecycle(ctx context.Context, p relay.Provider, in relay.Inbound, body []byte) {
	lp, ok := p.(relay.LifecycleParser)
	if !ok || s.connSvc == nil {
		return
	}
	ch, ok := lp.Lifecycle(in, body)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.connSvc.ApplyLifecycle(ctx, p.Name(), ch); err != nil {
		s.logger.Warn("applying a lifecycle webhook failed", "provider", p.Name(), "event_type", in.EventType, "err", err)
	}
}

// readBody reads the whole body, or fails with ETOOLARGE past limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, relay.Errorf(relay.ETOOLARGE, "Body of %d bytes is over the %d-byte limit.", r.ContentLength, limit)
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, relay.Errorf(relay.ETOOLARGE, "Body is over the %d-byte limit.", limit)
		}
		return nil, relay.Errorf(relay.EINVALID, "Could not read the request body.")
	}
	if len(body) == 0 {
		return nil, relay.Errorf(relay.EINVALID, "Empty body.")
	}
	return body, nil
}

// keepHeaders copies the allow-listed headers (canonical names) present in h.
func keepHeaders(h http.Header, allow []string) map[string]string {
	var out map[string]string
	for _, k := range allow {
		if v := h.Get(k); v != "" {
			if out == nil {
				out = make(map[string]string, len(allow))
			}
			out[http.CanonicalHeaderKey(k)] = v
		}
	}
	return out
}

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": relay.Version})
	})
}

// writability is implemented by an Ingester that knows whether events can
// be stored now (the ingest pipeline: its last commit or probe).
type writability interface {
	Writable() error
}

// handleReadyz answers 200 when the database answers, is migrated, and
// events can be stored now; 503 otherwise (a full disk fails every
// webhook, so a load balancer should send them elsewhere).
func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ready(ctx); err != nil {
			s.logger.Warn("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database not reachable or not migrated"})
			return
		}
		if wr, ok := s.ingest.(writability); ok {
			if err := wr.Writable(); err != nil {
				s.logger.Warn("not ready", "err", err)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "events cannot be stored now (disk full or database failing)"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
