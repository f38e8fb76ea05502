package http

import (
	"net/http"
	"time"

	"github.com/relayhq/relay"
)

// destinationInput is what the API accepts for a destination.
type destinationInput struct {
	Name           *string         `json:"name"`
	URL            *string         `json:"url"`
	Secret         *string         `json:"secret"`
	Providers      *[]string       `json:"providers"`
	EventTypes     *[]string       `json:"event_types"`
	OrgID          *string         `json:"org_id"`
	MaxConcurrency *int            `json:"max_concurrency"`
	Timeout        *relay.Duration `json:"timeout"`
	Disabled       *bool           `json:"disabled"`
	Ordering       *string         `json:"ordering"`
	OnDead         *string         `json:"on_dead"`
}

// apply copies the fields present in in onto d.
func (in *destinationInput) apply(d *relay.Destination) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&d.Name, in.Name)
	set(&d.URL, in.URL)
	set(&d.Secret, in.Secret)
	set(&d.OrgID, in.OrgID)
	set(&d.Ordering, in.Ordering)
	set(&d.OnDead, in.OnDead)
	if in.Providers != nil {
		d.Providers = *in.Providers
	}
	if in.EventTypes != nil {
		d.EventTypes = *in.EventTypes
	}
	if in.MaxConcurrency != nil {
		d.MaxConcurrency = *in.MaxConcurrency
	}
	if in.Timeout != nil {
		d.Timeout = *in.Timeout
	}
	if in.Disabled != nil && *in.Disabled != d.Disabled {
		d.Disabled = *in.Disabled
		d.DisabledReason = ""
		if d.Disabled {
			d.DisabledReason = "disabled through the API"
		}
	}
}

// withoutSecret returns a copy of d safe to list.
func withoutSecret(d *relay.Destination) *relay.Destination {
	c := *d
	c.Secret = ""
	return &c
}

func (s *Server) handleListDestinations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ds, err := s.store.ListDestinations(r.Context())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		out := make([]*relay.Destination, len(ds))
		for i, d := range ds {
			out[i] = withoutSecret(d)
		}
		writeJSON(w, http.StatusOK, relay.Page[*relay.Destination]{Items: out})
	})
}

func (s *Server) handleCreateDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in destinationInput
		if err := readJSON(w, r, &in); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		now := s.now()
		d := &relay.Destination{ID: relay.NewID("dst", now), CreatedAt: now, UpdatedAt: now}
		in.apply(d)
		if d.Secret == "" {
			d.Secret = relay.NewSecret()
		}
		if err := d.Validate(); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.store.CreateDestination(r.Context(), d); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.refreshDestinations(r)
		writeJSON(w, http.StatusCreated, d) // the secret is shown here, once
	})
}

func (s *Server) handleGetDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.store.GetDestination(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, withoutSecret(d))
	})
}

func (s *Server) handleUpdateDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in destinationInput
		if err := readJSON(w, r, &in); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		d, err := s.store.GetDestination(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		in.apply(d)
		d.UpdatedAt = s.now()
		if err := d.Validate(); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.store.UpdateDestination(r.Context(), d); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.refreshDestinations(r)
		if !d.Disabled {
			s.delivery.Wake() // enabling it again makes its waiting deliveries due
		}
		writeJSON(w, http.StatusOK, withoutSecret(d))
	})
}

func (s *Server) handleDeleteDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.store.DeleteDestination(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.refreshDestinations(r)
		w.WriteHeader(http.StatusNoContent)
	})
}

type replayDeadInput struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// handleReplayDead replays every dead delivery of a destination created in
// [since, until); both are optional.
func (s *Server) handleReplayDead() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in replayDeadInput
		if r.ContentLength != 0 {
			if err := readJSON(w, r, &in); err != nil {
				writeError(w, r, s.logger, err)
				return
			}
		}
		id := r.PathValue("id")
		if _, err := s.store.GetDestination(r.Context(), id); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		n, err := s.store.ReplayDead(r.Context(), id, in.Since, in.Until, s.now())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.delivery.Wake()
		writeJSON(w, http.StatusAccepted, map[string]int{"replayed": n})
	})
}

func (s *Server) refreshDestinations(r *http.Request) {
	if err := s.delivery.Refresh(r.Context()); err != nil {
		s.logger.Warn("reloading destinations failed", "err", err)
	}
}
