package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/relayhq/relay"
)

// queryTime parses an RFC 3339 query parameter; "" is the zero time.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, relay.Errorf(relay.EINVALID, "%s: want an RFC 3339 time like 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, relay.Errorf(relay.EINVALID, "limit: want a number from 1 to 1000")
	}
	return n, nil
}

var deliveryStatuses = map[string]bool{
	relay.DeliveryPending: true, relay.DeliveryRetrying: true, relay.DeliverySucceeded: true, relay.DeliveryDead: true,
}

func queryStatus(r *http.Request) (string, error) {
	v := r.URL.Query().Get("status")
	if v != "" && !deliveryStatuses[v] {
		return "", relay.Errorf(relay.EINVALID, "status: want pending, retrying, succeeded or dead")
	}
	return v, nil
}

// listQuery is what both list endpoints read from the query string.
type listQuery struct {
	status       string
	since, until time.Time
	limit        int
}

func parseListQuery(r *http.Request) (listQuery, error) {
	var q listQuery
	var err error
	if q.status, err = queryStatus(r); err != nil {
		return q, err
	}
	if q.since, err = queryTime(r, "since"); err != nil {
		return q, err
	}
	if q.until, err = queryTime(r, "until"); err != nil {
		return q, err
	}
	q.limit, err = queryLimit(r)
	return q, err
}

func (s *Server) handleListEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		lq, err := parseListQuery(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		f := relay.EventFilter{Provider: q.Get("provider"), EventType: q.Get("event_type"), Cursor: q.Get("cursor"),
			OrgID: callerOrg(r), Status: lq.status, Since: lq.since, Until: lq.until, Limit: lq.limit}
		page, err := s.store.ListEvents(r.Context(), f)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, page)
	})
}

func (s *Server) handleGetEvent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := s.store.GetEvent(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
}

// handleReplayEvent sends the event again to its destinations, and to any
// destination that matches it now but did not when it arrived.
func (s *Server) handleReplayEvent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := callerOrg(r)
		e, err := s.store.GetEvent(r.Context(), r.PathValue("id"), org)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		var ids []string
		for _, d := range s.delivery.Route(e) {
			ids = append(ids, d.ID)
		}
		ds, err := s.store.ReplayEvent(r.Context(), e.ID, org, ids, s.now())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.delivery.Wake()
		if ds == nil {
			ds = []*relay.Delivery{}
		}
		writeJSON(w, http.StatusAccepted, relay.Page[*relay.Delivery]{Items: ds})
	})
}

func (s *Server) handleListDeliveries() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		lq, err := parseListQuery(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		f := relay.DeliveryFilter{EventID: q.Get("event_id"), DestinationID: q.Get("destination_id"), Cursor: q.Get("cursor"),
			OrgID: callerOrg(r), Status: lq.status, Since: lq.since, Until: lq.until, Limit: lq.limit}
		page, err := s.store.ListDeliveries(r.Context(), f)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, page)
	})
}

func (s *Server) handleGetDelivery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.store.GetDelivery(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
}

func (s *Server) handleReplayDelivery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.store.ReplayDelivery(r.Context(), r.PathValue("id"), callerOrg(r), s.now())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.delivery.Wake()
		writeJSON(w, http.StatusAccepted, d)
	})
}
