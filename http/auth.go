package http

import (
	"context"
	"net/http"
	"strings"

	"github.com/relayhq/relay"
)

type ctxKey int

const apiKeyCtx ctxKey = 1

// authenticate requires a valid bearer API key and puts it in the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="relay"`)
			writeError(w, r, s.logger, relay.Errorf(relay.EUNAUTHORIZED, "Missing bearer API key."))
			return
		}
		key, err := s.lookupKey(r.Context(), relay.HashAPIKey(strings.TrimSpace(token)))
		if err != nil {
			if relay.ErrorCode(err) == relay.ENOTFOUND {
				err = relay.Errorf(relay.EUNAUTHORIZED, "Invalid API key.")
			}
			writeError(w, r, s.logger, err)
			return
		}
		s.noteKeyUse(r.Context(), key)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyCtx, key)))
	})
}

// lookupKey finds a key by hash, through the cache. The lookup is by a
// SHA-256 of the presented key, so timing reveals nothing of stored keys.
func (s *Server) lookupKey(ctx context.Context, hash string) (*relay.APIKey, error) {
	now := s.now()
	s.keys.mu.Lock()
	e, ok := s.keys.entries[hash]
	gen := s.keys.gen
	s.keys.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	k, err := s.store.FindAPIKey(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.keys.mu.Lock()
	if len(s.keys.entries) > 10000 {
		clear(s.keys.entries)
	}
	// A key revoked here while it was being read is not cached again.
	if s.keys.gen == gen {
		s.keys.entries[hash] = keyCacheEntry{key: k, expires: now.Add(keyTTL)}
	}
	s.keys.mu.Unlock()
	return k, nil
}

// noteKeyUse records that k was used now, at most once per
// relay.APIKeyUsageResolution per key and replica (the store skips the
// write when another replica recorded a use within that time), so that
// authenticating is not a database write per request. A failure to record
// is logged and does not fail the request.
func (s *Server) noteKeyUse(ctx context.Context, k *relay.APIKey) {
	now := s.now()
	s.keys.mu.Lock()
	last := s.keys.used[k.ID]
	if k.LastUsedAt.After(last) {
		last = k.LastUsedAt
	}
	due := now.Sub(last) >= relay.APIKeyUsageResolution
	if due {
		if len(s.keys.used) > 10000 {
			clear(s.keys.used)
		}
		s.keys.used[k.ID] = now
	}
	s.keys.mu.Unlock()
	if !due {
		return
	}
	if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
		s.logger.Warn("recording an API key's use failed", "key_id", k.ID, "err", err)
	}
}

// forgetKey drops a key from the cache, so that a key revoked here stops
// working here at once (other replicas drop it within keyTTL).
func (s *Server) forgetKey(hash string) {
	s.keys.mu.Lock()
	delete(s.keys.entries, hash)
	s.keys.gen++
	s.keys.mu.Unlock()
}

// callerKey returns the authenticated key of the request.
func callerKey(r *http.Request) *relay.APIKey {
	k, _ := r.Context().Value(apiKeyCtx).(*relay.APIKey)
	return k
}

// callerOrg is the org a request is scoped to: "" for an admin key. It comes
// from the key, never from the request.
func callerOrg(r *http.Request) string {
	if k := callerKey(r); k != nil {
		return k.OrgID
	}
	return ""
}

// adminOnly rejects org-scoped keys.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := callerKey(r); k == nil || !k.IsAdmin() {
			writeError(w, r, s.logger, relay.Errorf(relay.EFORBIDDEN, "This endpoint needs an admin API key."))
			return
		}
		next.ServeHTTP(w, r)
	})
}
