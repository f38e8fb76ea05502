package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/relayhq/relay"
)

// view is what every page template gets: the session, the page's data,
// and a flash message from the action that led here.
type view struct {
	Title   string
	Nav     string
	Admin   bool
	OrgID   string
	KeyName string
	CSRF    string
	Flash   string
	Data    any
}

// render writes the page name with data for the session s.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, data any) {
	v := view{Title: title, Nav: name, Data: data, Flash: r.URL.Query().Get("flash")}
	if s != nil {
		v.Admin, v.OrgID, v.KeyName, v.CSRF = s.key.IsAdmin(), s.key.OrgID, s.key.Name, s.csrfToken()
	}
	var buf bytes.Buffer
	if err := d.pages[name+".html"].Execute(&buf, v); err != nil {
		d.logger.Error("rendering a dashboard page failed", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail answers err as an error page; only internal errors are logged.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := relay.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case relay.EINVALID:
		status = http.StatusBadRequest
	case relay.ENOTFOUND:
		status = http.StatusNotFound
	case relay.ECONFLICT:
		status = http.StatusConflict
	case relay.EFORBIDDEN:
		status = http.StatusForbidden
	case relay.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	}
	if code == relay.EINTERNAL {
		d.logger.Error("dashboard internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	d.render(w, r, s, status, "error", "Error", relay.ErrorMessage(err))
}

// back redirects to the page the form was on, with a flash message.
func back(w http.ResponseWriter, r *http.Request, path, flash string) {
	http.Redirect(w, r, path+sep(path)+"flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

func (d *Dashboard) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, nil, http.StatusOK, "signin", "Sign in", nil)
}

// handleSignIn checks the API key and starts a session. The form has no
// CSRF token (there is no session yet to bind one to): a cross-site POST
// is refused by its Origin instead.
func (d *Dashboard) handleSignIn(w http.ResponseWriter, r *http.Request) {
	// Another site's form must not sign the browser in (with the other
	// site's key, to see what the person then does): browsers name the
	// origin of a form's POST.
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			http.Error(w, "Sign in from Relay's own sign-in page.", http.StatusForbidden)
			return
		}
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	k, err := d.deps.Store.FindAPIKey(r.Context(), relay.HashAPIKey(key))
	if key == "" || relay.ErrorCode(err) == relay.ENOTFOUND {
		d.render(w, r, nil, http.StatusUnauthorized, "signin", "Sign in", "That API key is not valid.")
		return
	}
	if err != nil {
		d.fail(w, r, nil, err)
		return
	}
	expires := d.now().Add(d.cfg.SessionTTL)
	d.setSessionCookie(w, newSessionValue(k, expires), expires)
	d.logger.Info("dashboard sign-in", "key_id", k.ID, "org_id", k.OrgID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *Dashboard) handleSignOut(w http.ResponseWriter, r *http.Request, s *session) {
	d.setSessionCookie(w, "", time.Unix(0, 0))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// scopeOrg returns the org a list is narrowed to: an org key's own always;
// for an admin, the org asked for ("" = every org).
func scopeOrg(s *session, asked string) string {
	if !s.key.IsAdmin() {
		return s.key.OrgID
	}
	return asked
}

// eventsView is the Events page's data.
type eventsView struct {
	Filter  url.Values
	Events  []*relay.Event
	Next    string
	RowsURL string
}

// eventFilter reads the Events page's filters from the query.
func eventFilter(r *http.Request, s *session) (relay.EventFilter, error) {
	q := r.URL.Query()
	f := relay.EventFilter{Provider: q.Get("provider"), EventType: q.Get("event_type"), Status: q.Get("status"),
		OrgID: scopeOrg(s, q.Get("org")), Cursor: q.Get("cursor"), Limit: 50}
	var err error
	if f.Since, err = formTime(q.Get("since")); err != nil {
		return f, err
	}
	f.Until, err = formTime(q.Get("until"))
	return f, err
}

// formTime parses a datetime-local form value (UTC) or an RFC 3339 time.
func formTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, relay.Errorf(relay.EINVALID, "%q is not a time: use 2026-01-02T15:04 (UTC)", v)
}

func (d *Dashboard) handleEvents(w http.ResponseWriter, r *http.Request, s *session) {
	if id := strings.TrimSpace(r.URL.Query().Get("delivery_id")); id != "" {
		dl, err := d.deps.Store.GetDelivery(r.Context(), id, s.key.OrgID)
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		http.Redirect(w, r, "/events/"+url.PathEscape(dl.EventID), http.StatusSeeOther)
		return
	}
	f, err := eventFilter(r, s)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	page, err := d.deps.Store.ListEvents(r.Context(), f)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	q := r.URL.Query()
	q.Del("cursor")
	q.Del("flash")
	v := eventsView{Filter: r.URL.Query(), Events: page.Items, Next: page.Next}
	if r.URL.Query().Get("cursor") == "" && f.Until.IsZero() {
		v.RowsURL = "/events/rows?" + q.Encode() // only the first page grows live
	}
	d.render(w, r, s, http.StatusOK, "events", "Events", v)
}

// handleEventRows answers the rows of events newer than ?after for the
// Events page's filters: the fragment live.js polls to show new events
// without a reload.
func (d *Dashboard) handleEventRows(w http.ResponseWriter, r *http.Request, s *session) {
	f, err := eventFilter(r, s)
	if err != nil {
		http.Error(w, relay.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	f.Cursor = ""
	page, err := d.deps.Store.ListEvents(r.Context(), f)
	if err != nil {
		d.logger.Error("listing events for the dashboard failed", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	after := r.URL.Query().Get("after")
	var fresh []*relay.Event
	for _, e := range page.Items {
		if e.ID > after { // ids sort by time
			fresh = append(fresh, e)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.pages["events.html"].ExecuteTemplate(w, "rows", fresh); err != nil {
		d.logger.Error("rendering event rows failed", "err", err)
	}
}

// eventView is the Event page's data.
type eventView struct {
	Event   *relay.Event
	Headers [][2]string
	Payload string
	Dests   map[string]string // destination id → name
}

func (d *Dashboard) handleEvent(w http.ResponseWriter, r *http.Request, s *session) {
	e, err := d.deps.Store.GetEvent(r.Context(), r.PathValue("id"), s.key.OrgID)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	v := eventView{Event: e, Payload: string(e.Payload), Dests: d.destinationNames(r)}
	var pretty bytes.Buffer
	if json.Indent(&pretty, e.Payload, "", "  ") == nil {
		v.Payload = pretty.String()
	}
	for k, val := range e.Headers {
		v.Headers = append(v.Headers, [2]string{k, val})
	}
	slices.SortFunc(v.Headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	d.render(w, r, s, http.StatusOK, "event", "Event "+e.ID, v)
}

// destinationNames maps destination ids to names, for showing deliveries.
func (d *Dashboard) destinationNames(r *http.Request) map[string]string {
	names := map[string]string{}
	ds, err := d.deps.Store.ListDestinations(r.Context())
	if err != nil {
		d.logger.Warn("listing destinations for the dashboard failed", "err", err)
		return names
	}
	for _, dst := range ds {
		names[dst.ID] = dst.Name
	}
	return names
}

// handleReplayEvent sends the event again, as the API's replay does: to its
// destinations, and to any that matches it now but did not when it arrived.
func (d *Dashboard) handleReplayEvent(w http.ResponseWriter, r *http.Request, s *session) {
	e, err := d.deps.Store.GetEvent(r.Context(), r.PathValue("id"), s.key.OrgID)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	var ids []string
	for _, dst := range d.deps.Delivery.Route(e) {
		ids = append(ids, dst.ID)
	}
	ds, err := d.deps.Store.ReplayEvent(r.Context(), e.ID, s.key.OrgID, ids, d.now())
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.deps.Delivery.Wake()
	back(w, r, "/events/"+url.PathEscape(e.ID), fmt.Sprintf("Replaying to %d destination(s).", len(ds)))
}

// deliveriesView is the Deliveries page's data.
type deliveriesView struct {
	Status     string
	Deliveries []*relay.Delivery
	Next       string
	Dests      map[string]string
	DestList   []*relay.Destination
}

func (d *Dashboard) handleDeliveries(w http.ResponseWriter, r *http.Request, s *session) {
	status := r.URL.Query().Get("status")
	if status != relay.DeliveryDead {
		status = relay.DeliveryRetrying
	}
	page, err := d.deps.Store.ListDeliveries(r.Context(), relay.DeliveryFilter{Status: status, OrgID: s.key.OrgID,
		Cursor: r.URL.Query().Get("cursor"), Limit: 50})
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	v := deliveriesView{Status: status, Deliveries: page.Items, Next: page.Next, Dests: d.destinationNames(r)}
	if s.key.IsAdmin() {
		v.DestList, _ = d.deps.Store.ListDestinations(r.Context())
	}
	d.render(w, r, s, http.StatusOK, "deliveries", "Deliveries", v)
}

func (d *Dashboard) handleReplayDelivery(w http.ResponseWriter, r *http.Request, s *session) {
	dl, err := d.deps.Store.ReplayDelivery(r.Context(), r.PathValue("id"), s.key.OrgID, d.now())
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.deps.Delivery.Wake()
	back(w, r, "/deliveries?status="+relay.DeliveryDead, "Replaying delivery "+dl.ID+".")
}

// handleReplayDead replays every dead delivery of a destination created in
// a time range (admin only: destinations are shared by every org).
func (d *Dashboard) handleReplayDead(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Replaying a destination's dead deliveries needs an admin key."))
		return
	}
	since, err := formTime(r.PostFormValue("since"))
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	until, err := formTime(r.PostFormValue("until"))
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	if until.IsZero() {
		until = d.now()
	}
	n, err := d.deps.Store.ReplayDead(r.Context(), r.PostFormValue("destination_id"), since, until, d.now())
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.deps.Delivery.Wake()
	back(w, r, "/deliveries?status="+relay.DeliveryDead, fmt.Sprintf("Replaying %d dead deliveries.", n))
}

// template helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"q": func(v url.Values, k string) string { return v.Get(k) },
	// withq returns the path with the query v, k set to val: a URL every
	// part of which is query-escaped here.
	"withq": func(path string, v url.Values, k, val string) template.URL {
		c := url.Values{}
		for kk, vv := range v {
			c[kk] = vv
		}
		c.Del("flash")
		c.Set(k, val)
		return template.URL(path + "?" + c.Encode())
	},
	"pct": func(n, of int) string {
		if of == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	},
	"join": strings.Join,
	"dur": func(d relay.Duration) string {
		return time.Duration(d).Round(time.Millisecond / 10).String()
	},
	"list": func(s ...string) []string { return s },
	"add":  func(a, b int) int { return a + b },
}
