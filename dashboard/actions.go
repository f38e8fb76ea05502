package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/relayhq/relay"
)

// handleConnect starts a provider's normal connect flow for an org and
// leads the browser to its start link; the flow ends back on the
// Connections page.
func (d *Dashboard) handleConnect(w http.ResponseWriter, r *http.Request, s *session) {
	if d.deps.ConnSvc == nil {
		d.fail(w, r, s, relay.Errorf(relay.ENOTFOUND, "Connections are not enabled."))
		return
	}
	org := scopeOrg(s, r.PostFormValue("org"))
	if org == "" {
		d.fail(w, r, s, relay.Errorf(relay.EINVALID, "Choose the org to connect the account to."))
		return
	}
	start, _, err := d.deps.ConnSvc.Authorize(r.Context(), org, r.PostFormValue("provider"), d.cfg.PublicURL+"/connections")
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	// A page that leads on, not a redirect: the page's policy limits where
	// forms may go (form-action 'self'), and that covers the redirects that
	// follow a form's POST, while the flow goes on to the provider's site.
	d.render(w, r, s, http.StatusOK, "connect", "Connect "+r.PostFormValue("provider"),
		struct{ Provider, StartURL string }{r.PostFormValue("provider"), start})
}

func (d *Dashboard) handleStartBackfill(w http.ResponseWriter, r *http.Request, s *session) {
	if d.deps.BackfillSvc == nil {
		d.fail(w, r, s, relay.Errorf(relay.ENOTFOUND, "Backfills are not enabled."))
		return
	}
	depth := 0
	if v := strings.TrimSpace(r.PostFormValue("depth_days")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			d.fail(w, r, s, relay.Errorf(relay.EINVALID, "Depth must be a number of days from 1 to 365."))
			return
		}
		depth = n
	}
	b, created, err := d.deps.BackfillSvc.Start(r.Context(), r.PathValue("id"), s.key.OrgID, depth, nil)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	msg := "Backfill " + b.ID + " started."
	if !created {
		msg = "Backfill " + b.ID + " with these settings is already running."
	}
	back(w, r, "/connections", msg)
}

func (d *Dashboard) handleCancelBackfill(w http.ResponseWriter, r *http.Request, s *session) {
	if d.deps.BackfillSvc == nil {
		d.fail(w, r, s, relay.Errorf(relay.ENOTFOUND, "Backfills are not enabled."))
		return
	}
	b, err := d.deps.BackfillSvc.Cancel(r.Context(), r.PathValue("id"), r.PathValue("bid"), s.key.OrgID)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	back(w, r, "/connections", "Backfill "+b.ID+" cancelled.")
}

// handleUpdateDestination applies the edit form: URL, filters and
// concurrency; the name, secret and state are kept.
func (d *Dashboard) handleUpdateDestination(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	dst, err := d.deps.Store.GetDestination(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	dst.URL = strings.TrimSpace(r.PostFormValue("url"))
	dst.Providers, dst.EventTypes = fields(r.PostFormValue("providers")), fields(r.PostFormValue("event_types"))
	dst.OrgID = strings.TrimSpace(r.PostFormValue("org_id"))
	if v := strings.TrimSpace(r.PostFormValue("max_concurrency")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			d.fail(w, r, s, relay.Errorf(relay.EINVALID, "Concurrency must be a number."))
			return
		}
		dst.MaxConcurrency = n
	}
	dst.UpdatedAt = d.now()
	if err := dst.Validate(); err != nil {
		d.fail(w, r, s, err)
		return
	}
	dst.Secret = "" // keeps the stored one
	if err := d.deps.Store.UpdateDestination(r.Context(), dst); err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.refresh(r)
	back(w, r, "/destinations", "Destination "+dst.Name+" saved.")
}

func (d *Dashboard) handleCreateOrg(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() || d.deps.Conns == nil {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Orgs are created with an admin key."))
		return
	}
	o := &relay.Org{ID: strings.TrimSpace(r.PostFormValue("id")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	if err := o.Validate(); err != nil {
		d.fail(w, r, s, err)
		return
	}
	o.CreatedAt = d.now()
	if err := d.deps.Conns.CreateOrg(r.Context(), o); err != nil {
		d.fail(w, r, s, err)
		return
	}
	back(w, r, "/keys", "Org "+o.ID+" created.")
}

// newKeyView is the page that shows a new key, once.
type newKeyView struct {
	Key    *relay.APIKey
	Secret string
}

func (d *Dashboard) handleCreateOrgKey(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() || d.deps.Conns == nil {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Org keys are created with an admin key."))
		return
	}
	org, err := d.deps.Conns.GetOrg(r.Context(), r.PathValue("org"))
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = "org " + org.ID
	}
	if err := relay.ValidateAPIKeyName(name); err != nil {
		d.fail(w, r, s, err)
		return
	}
	secret := relay.NewAPIKeySecret()
	k := &relay.APIKey{ID: relay.NewID("key", d.now()), OrgID: org.ID, Name: name,
		Prefix: relay.APIKeyPrefix(secret), Hash: relay.HashAPIKey(secret), CreatedAt: d.now()}
	if err := d.deps.Store.CreateAPIKey(r.Context(), k); err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.logger.Info("API key created from the dashboard", "key_id", k.ID, "org_id", k.OrgID, "by_key_id", s.key.ID)
	d.render(w, r, s, http.StatusOK, "newkey", "API key created", newKeyView{Key: k, Secret: secret})
}

// handleRevokeKey revokes a key: an org key only its org's. Other
// replicas' API caches drop it within seconds; its dashboard sessions end
// at once.
func (d *Dashboard) handleRevokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, err := d.deps.Store.RevokeAPIKey(r.Context(), r.PathValue("id"), s.key.OrgID)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.logger.Info("API key revoked from the dashboard", "key_id", k.ID, "org_id", k.OrgID, "by_key_id", s.key.ID)
	if k.ID == s.key.ID {
		d.setSessionCookie(w, "", d.now().Add(-1))
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	back(w, r, "/keys", fmt.Sprintf("API key %s revoked.", url.PathEscape(k.ID)))
}
