package http

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

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
		if err := s.verify(r.Context(), p, req); err != nil {
			switch relay.ErrorCode(err) {
			case relay.EUNAUTHORIZED:
				outcome(metrics.OutcomeUnverified)
				s.metrics.VerifyFailures.WithLabelValues(name).Inc()
				s.logger.Debug("webhook rejected", "provider", name, "reason", relay.ErrorMessage(err))
			case relay.EINTERNAL, relay.EUNAVAILABLE:
				// A per-connection secret could not be looked up: the
				// provider should retry, as for a failed commit.
				outcome(metrics.OutcomeUnavailable)
				s.logger.Warn("webhook verification failed", "provider", name, "err", err)
				err = relay.Errorf(relay.EUNAVAILABLE, "The webhook could not be verified now; retry later.")
			default:
				outcome(metrics.OutcomeInvalid)
			}
			writeError(w, r, s.logger, err)
			return
		}
		// JSON text must be UTF-8 (RFC 8259). Checked after verification, so
		// only a sender holding the secret learns why; stored, such a body
		// would make every events page and envelope holding it invalid JSON.
		if !utf8.Valid(body) {
			outcome(metrics.OutcomeInvalid)
			writeError(w, r, s.logger, relay.Errorf(relay.EINVALID, "Body is not valid UTF-8."))
			return
		}
		in, err := p.Parse(req)
		if err != nil {
			outcome(metrics.OutcomeInvalid)
			writeError(w, r, s.logger, err)
			return
		}
		// The stored payload is the JSON the adapter found, which is the body
		// unless the body wraps it (a form-encoded GitHub delivery); the
		// kept Content-Type then describes what is stored.
		payload, headers := body, keepHeaders(r.Header, p.Headers())
		if in.Payload != "" {
			payload = []byte(in.Payload)
			if !utf8.Valid(payload) { // the form's JSON, URL-decoded
				outcome(metrics.OutcomeInvalid)
				writeError(w, r, s.logger, relay.Errorf(relay.EINVALID, "Body is not valid UTF-8."))
				return
			}
			if _, ok := headers["Content-Type"]; ok {
				headers["Content-Type"] = "application/json"
			}
		}
		ev := &relay.Event{
			Provider: name, DeliveryID: in.DeliveryID, EventType: in.EventType, Source: relay.SourceLive,
			AccountID: in.AccountID, ResourceID: in.ResourceID,
			Headers: headers, Payload: payload, ReceivedAt: req.ReceivedAt,
			BodyKey: in.BodyKey,
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
		if ch := s.lifecycleClaim(p, in, payload); ch != nil {
			// The answer goes out before the claim is checked with the
			// provider, which must not hold it up (Sentry waits one second).
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			s.applyLifecycle(r.Context(), p, in, ch)
		}
	})
}

// verify checks the request's signature: with the per-connection secrets
// for providers that sign with them (relay.ConnectionVerifier), else with
// the provider's own. Without connections, secrets is nil and only the
// provider's app-level secret verifies.
func (s *Server) verify(ctx context.Context, p relay.Provider, req *relay.WebhookRequest) error {
	cv, ok := p.(relay.ConnectionVerifier)
	if !ok {
		return p.Verify(req)
	}
	var secrets relay.WebhookSecrets
	if s.connSvc != nil {
		secrets = s.connSvc
	}
	return cv.VerifyConnection(ctx, req, secrets)
}

// lifecycleClaim returns the change a provider's lifecycle webhook claims
// (uninstalled, suspended, repositories added, …), nil for none.
func (s *Server) lifecycleClaim(p relay.Provider, in relay.Inbound, payload []byte) *relay.LifecycleChange {
	lp, ok := p.(relay.LifecycleParser)
	if !ok || s.connSvc == nil {
		return nil
	}
	if ch, ok := lp.Lifecycle(in, payload); ok {
		return ch
	}
	return nil
}

// applyLifecycle updates the connection a lifecycle webhook is about,
// after the answer: the event is stored either way, and a failure here is
// only logged. What the webhook claims is only a question to the
// provider: the connections service changes nothing the provider does not
// confirm.
func (s *Server) applyLifecycle(ctx context.Context, p relay.Provider, in relay.Inbound, ch *relay.LifecycleChange) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.connSvc.ApplyLifecycle(ctx, p.Name(), ch); err != nil {
		s.logger.Warn("applying a lifecycle webhook failed", "provider", p.Name(), "event_type", in.EventType, "err", err)
	}
}

// bodyBufferStart bounds the buffer readBody allocates before any byte
// arrives. Content-Length is only a claim: sizing the buffer from it let idle
// connections each declaring megabytes hold that much heap. The buffer
// starts at min(Content-Length, bodyBufferStart) and grows as bytes arrive.
const bodyBufferStart = 64 << 10

// readBody reads the whole body, or fails with ETOOLARGE past limit (declared
// or sent) and EINVALID when it cannot be read or is empty.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, relay.Errorf(relay.ETOOLARGE, "Body of %d bytes is over the %d-byte limit.", r.ContentLength, limit)
	}
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size = min(r.ContentLength, bodyBufferStart)
	}
	// MinRead spare bytes let ReadFrom see EOF without growing a buffer the
	// body exactly fills.
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, relay.Errorf(relay.ETOOLARGE, "Body is over the %d-byte limit.", limit)
		}
		return nil, relay.Errorf(relay.EINVALID, "Could not read the request body.")
	}
	if buf.Len() == 0 {
		return nil, relay.Errorf(relay.EINVALID, "Empty body.")
	}
	return buf.Bytes(), nil
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

// handleOpenAPI serves the API's OpenAPI document, without authentication
// (it describes the API, it shows no data).
func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(relay.OpenAPI)
	})
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
