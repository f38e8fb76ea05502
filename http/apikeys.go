package http

import (
	"net/http"

	"github.com/relayhq/relay"
)

// The API key endpoints. An admin key sees and revokes every key; an org
// key sees and revokes its own org's keys only (another org's key is 404,
// as if it did not exist). Keys are shown without their secret or hash:
// id, org, name, prefix, creation and last use.

// handleListAPIKeys lists the keys the caller may see, oldest first.
func (s *Server) handleListAPIKeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, err := s.store.ListAPIKeys(r.Context(), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, relay.Page[*relay.APIKey]{Items: keys})
	})
}

// handleCreateAdminKey creates an admin key (for rotating the admin key
// without a restart); the key is in this answer only.
func (s *Server) handleCreateAdminKey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if err := readJSON(w, r, &in); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := relay.ValidateAPIKeyName(in.Name); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		now := s.now().UTC()
		secret := relay.NewAPIKeySecret()
		k := &relay.APIKey{ID: relay.NewID("key", now), Name: in.Name, Prefix: relay.APIKeyPrefix(secret),
			Hash: relay.HashAPIKey(secret), CreatedAt: now}
		if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.Info("admin API key created", "key_id", k.ID, "by_key_id", callerKey(r).ID)
		writeJSON(w, http.StatusCreated, struct {
			*relay.APIKey
			Key string `json:"key"`
		}{k, secret})
	})
}

// handleRevokeAPIKey revokes a key: at once on this replica, within keyTTL
// on the others. The last admin key is 409.
func (s *Server) handleRevokeAPIKey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := s.store.RevokeAPIKey(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.forgetKey(k.Hash)
		s.logger.Info("API key revoked", "key_id", k.ID, "org_id", k.OrgID, "by_key_id", callerKey(r).ID)
		w.WriteHeader(http.StatusNoContent)
	})
}
