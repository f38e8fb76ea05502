package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/relayhq/relay"
)

// countCap bounds how many rows the Overview counts per figure, so that a
// busy hour does not make the page scan the whole table; a capped figure
// shows as "≥ cap".
const countCap = 5000

// stat is one Overview figure with its bar's width in a chart.
type stat struct {
	Label  string
	N      int
	Capped bool
	Width  int // of 300
}

// overviewView is the Overview page's data.
type overviewView struct {
	Hourly     []hourBar // events accepted in each of the last 24 hours, oldest first
	HourlyMax  int
	Windows    []window
	QueueDepth int
	Paused     []*relay.Destination
	Rejected   []stat // by reason, since this process started
	Duplicates int
}

// hourBar is one hour's bar of the Overview's accepted-events chart
// (a 24×60 SVG viewBox: X from the hour, Y and H from its count).
type hourBar struct {
	Hour  time.Time
	N     int
	X     int
	Y     int
	H     int
	Label string
}

// hourly counts events per hour over the 24 hours before now, oldest first.
func hourly(events []*relay.Event, now time.Time) (bars []hourBar, most int) {
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	bars = make([]hourBar, 24)
	for _, e := range events {
		if i := int(e.ReceivedAt.Sub(start) / time.Hour); i >= 0 && i < 24 {
			bars[i].N++
		}
	}
	for i := range bars {
		most = max(most, bars[i].N)
	}
	for i := range bars {
		b := &bars[i]
		b.Hour = start.Add(time.Duration(i) * time.Hour)
		b.X = i * 10
		b.H = b.N * 58 / max(most, 1)
		if b.N > 0 {
			b.H = max(b.H, 2)
		}
		b.Y = 60 - b.H
		b.Label = fmt.Sprintf("%s: %d", b.Hour.Format("15:04"), b.N)
	}
	return bars, most
}

type window struct {
	Name  string
	Stats []stat
}

func (d *Dashboard) handleOverview(w http.ResponseWriter, r *http.Request, s *session) {
	now := d.now()
	var v overviewView
	for _, win := range []struct {
		name string
		span time.Duration
	}{{"Last hour", time.Hour}, {"Last day", 24 * time.Hour}} {
		since := now.Add(-win.span)
		events, capped, err := d.readEvents(r, relay.EventFilter{Since: since, OrgID: s.key.OrgID})
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		accepted := len(events)
		if win.span == 24*time.Hour {
			v.Hourly, v.HourlyMax = hourly(events, now)
		}
		stats := []stat{{Label: "accepted", N: accepted, Capped: capped}}
		for _, st := range []string{relay.DeliverySucceeded, relay.DeliveryRetrying, relay.DeliveryDead} {
			n, capped, err := d.countDeliveries(r, relay.DeliveryFilter{Since: since, Status: st, OrgID: s.key.OrgID})
			if err != nil {
				d.fail(w, r, s, err)
				return
			}
			label := map[string]string{relay.DeliverySucceeded: "delivered", relay.DeliveryRetrying: "failed (retrying)", relay.DeliveryDead: "dead"}[st]
			stats = append(stats, stat{Label: label, N: n, Capped: capped})
		}
		v.Windows = append(v.Windows, window{Name: win.name, Stats: scale(stats)})
	}
	if s.key.IsAdmin() {
		var err error
		if v.QueueDepth, err = d.deps.Store.QueueDepth(r.Context()); err != nil {
			d.fail(w, r, s, err)
			return
		}
		ds, err := d.deps.Store.ListDestinations(r.Context())
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		for _, dst := range ds {
			if dst.PausedUntil.After(now) {
				v.Paused = append(v.Paused, dst)
			}
		}
		v.Rejected, v.Duplicates = d.ingestCounters()
	}
	d.render(w, r, s, http.StatusOK, "overview", "Overview", v)
}

// scale sets each stat's bar width relative to the largest.
func scale(stats []stat) []stat {
	most := 1
	for _, st := range stats {
		most = max(most, st.N)
	}
	for i := range stats {
		stats[i].Width = stats[i].N * 300 / most
	}
	return stats
}

// readEvents returns the events matching f, newest first, up to countCap.
func (d *Dashboard) readEvents(r *http.Request, f relay.EventFilter) (events []*relay.Event, capped bool, err error) {
	f.Limit = 1000
	for {
		page, err := d.deps.Store.ListEvents(r.Context(), f)
		if err != nil {
			return nil, false, err
		}
		events = append(events, page.Items...)
		if page.Next == "" {
			return events, false, nil
		}
		if len(events) >= countCap {
			return events, true, nil
		}
		f.Cursor = page.Next
	}
}

// countDeliveries counts deliveries matching f, up to countCap.
func (d *Dashboard) countDeliveries(r *http.Request, f relay.DeliveryFilter) (n int, capped bool, err error) {
	f.Limit = 1000
	for {
		page, err := d.deps.Store.ListDeliveries(r.Context(), f)
		if err != nil {
			return 0, false, err
		}
		n += len(page.Items)
		if page.Next == "" {
			return n, false, nil
		}
		if n >= countCap {
			return n, true, nil
		}
		f.Cursor = page.Next
	}
}

// ingestCounters reads rejected webhooks by reason and duplicates from the
// process's metrics (counted since it started: the store keeps neither).
func (d *Dashboard) ingestCounters() (rejected []stat, duplicates int) {
	if d.deps.Metrics == nil {
		return nil, 0
	}
	families, err := d.deps.Metrics.Registry.Gather()
	if err != nil {
		d.logger.Warn("reading metrics for the dashboard failed", "err", err)
		return nil, 0
	}
	byReason := map[string]int{}
	for _, f := range families {
		switch f.GetName() {
		case "relay_ingest_requests_total":
			for _, m := range f.GetMetric() {
				outcome := label(m, "outcome")
				if outcome != "accepted" && outcome != "duplicate" && outcome != "" {
					byReason[outcome] += int(m.GetCounter().GetValue())
				}
			}
		case "relay_ingest_duplicates_total":
			for _, m := range f.GetMetric() {
				duplicates += int(m.GetCounter().GetValue())
			}
		}
	}
	for reason, n := range byReason {
		rejected = append(rejected, stat{Label: reason, N: n})
	}
	slices.SortFunc(rejected, func(a, b stat) int { return strings.Compare(a.Label, b.Label) })
	return scale(rejected), duplicates
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// destinationRow is a destination with its recent success rate.
type destinationRow struct {
	*relay.Destination
	Paused    bool
	Succeeded int
	Dead      int
}

func (d *Dashboard) handleDestinations(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	ds, err := d.deps.Store.ListDestinations(r.Context())
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	since := d.now().Add(-24 * time.Hour)
	rows := make([]destinationRow, 0, len(ds))
	for _, dst := range ds {
		row := destinationRow{Destination: dst, Paused: dst.PausedUntil.After(d.now())}
		if row.Succeeded, _, err = d.countDeliveries(r, relay.DeliveryFilter{DestinationID: dst.ID, Since: since, Status: relay.DeliverySucceeded}); err != nil {
			d.fail(w, r, s, err)
			return
		}
		if row.Dead, _, err = d.countDeliveries(r, relay.DeliveryFilter{DestinationID: dst.ID, Since: since, Status: relay.DeliveryDead}); err != nil {
			d.fail(w, r, s, err)
			return
		}
		rows = append(rows, row)
	}
	d.render(w, r, s, http.StatusOK, "destinations", "Destinations", rows)
}

// handleCreateDestination adds a destination from the form; its signing
// secret is shown once, on the page it leads to.
func (d *Dashboard) handleCreateDestination(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	now := d.now()
	dst := &relay.Destination{ID: relay.NewID("dst", now), Name: strings.TrimSpace(r.PostFormValue("name")),
		URL: strings.TrimSpace(r.PostFormValue("url")), Providers: fields(r.PostFormValue("providers")),
		EventTypes: fields(r.PostFormValue("event_types")), OrgID: strings.TrimSpace(r.PostFormValue("org_id")),
		MaxConcurrency: relay.DefaultMaxConcurrency, Timeout: relay.Duration(relay.DefaultTimeout),
		Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := dst.Validate(); err != nil {
		d.fail(w, r, s, err)
		return
	}
	if err := d.deps.Store.CreateDestination(r.Context(), dst); err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.refresh(r)
	d.render(w, r, s, http.StatusOK, "secret", "Destination created", dst)
}

// fields splits a comma-separated form value.
func fields(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// refresh reloads the delivery engine's destinations after a change.
func (d *Dashboard) refresh(r *http.Request) {
	if err := d.deps.Delivery.Refresh(r.Context()); err != nil {
		d.logger.Warn("refreshing destinations failed", "err", err)
	}
}

func (d *Dashboard) handleSetDisabled(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	disabled, _ := strconv.ParseBool(r.PostFormValue("disabled"))
	reason := ""
	if disabled {
		reason = "disabled from the dashboard"
	}
	if err := d.deps.Store.SetDestinationDisabled(r.Context(), r.PathValue("id"), disabled, reason); err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.refresh(r)
	back(w, r, "/destinations", "Destination updated.")
}

// connectionRow is a connection with its resources and backfills. It holds
// no token: the page never shows one.
type connectionRow struct {
	*relay.Connection
	Resources []*relay.Resource
	Backfills []*relay.Backfill
}

// connectionsView is the Connections page's data, grouped by org.
type connectionsView struct {
	Enabled   bool
	Orgs      []orgConnections
	Providers []string // with a connect flow
	OrgIDs    []string // the orgs a connect may be started for
	Live      bool     // a backfill is running: the page refreshes itself
	Backfills bool     // backfills can be started and cancelled
	Status    string   // a connect flow's result, when it returned here
}

type orgConnections struct {
	OrgID       string
	Connections []connectionRow
}

func (d *Dashboard) handleConnections(w http.ResponseWriter, r *http.Request, s *session) {
	v := connectionsView{Enabled: d.deps.Conns != nil, Backfills: d.deps.BackfillSvc != nil}
	if q := r.URL.Query(); q.Get("error") != "" {
		v.Status = "The connect flow failed: " + q.Get("error")
	} else if q.Get("connection_id") != "" {
		v.Status = "Connected: " + q.Get("connection_id") + " (" + q.Get("status") + ")."
	}
	if d.deps.ConnSvc != nil {
		v.Providers = d.deps.ConnSvc.Providers()
		slices.Sort(v.Providers)
	}
	if !v.Enabled {
		d.render(w, r, s, http.StatusOK, "connections", "Connections", v)
		return
	}
	cs, err := d.deps.Conns.ListConnections(r.Context(), relay.ConnectionFilter{OrgID: scopeOrg(s, r.URL.Query().Get("org"))})
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	byOrg := map[string]int{}
	for _, c := range cs {
		row := connectionRow{Connection: c}
		if row.Resources, err = d.deps.Conns.ListResources(r.Context(), c.ID); err != nil {
			d.fail(w, r, s, err)
			return
		}
		if d.deps.Backfills != nil {
			bs, err := d.deps.Backfills.ListBackfills(r.Context(), c.ID, s.key.OrgID)
			if err != nil {
				d.fail(w, r, s, err)
				return
			}
			for _, b := range bs {
				if full, err := d.deps.Backfills.GetBackfill(r.Context(), b.ID, s.key.OrgID); err == nil {
					b = full
				}
				row.Backfills = append(row.Backfills, b)
				v.Live = v.Live || b.Active()
			}
		}
		i, ok := byOrg[c.OrgID]
		if !ok {
			i = len(v.Orgs)
			byOrg[c.OrgID] = i
			v.Orgs = append(v.Orgs, orgConnections{OrgID: c.OrgID})
		}
		v.Orgs[i].Connections = append(v.Orgs[i].Connections, row)
	}
	if s.key.IsAdmin() {
		orgs, err := d.deps.Conns.ListOrgs(r.Context())
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		for _, o := range orgs {
			v.OrgIDs = append(v.OrgIDs, o.ID)
		}
	} else {
		v.OrgIDs = []string{s.key.OrgID}
	}
	d.render(w, r, s, http.StatusOK, "connections", "Connections", v)
}

func (d *Dashboard) handleDisconnect(w http.ResponseWriter, r *http.Request, s *session) {
	if d.deps.ConnSvc == nil {
		d.fail(w, r, s, relay.Errorf(relay.ENOTFOUND, "Connections are not enabled."))
		return
	}
	c, err := d.deps.ConnSvc.Teardown(r.Context(), r.PathValue("id"), s.key.OrgID)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	back(w, r, "/connections", "Disconnecting "+c.Provider+" account "+c.ExternalID+".")
}

// identityView is the Identity page's data.
type identityView struct {
	Enabled     bool
	Resolutions []*relay.Resolution
	Held        []heldRow
}

type heldRow struct {
	relay.HeldAccount
	Events int
	Capped bool
}

// heldCounts counts the held events of each held account, reading at most
// countCap recent events per provider (capped says where the count stopped).
func (d *Dashboard) heldCounts(r *http.Request, held []relay.HeldAccount) (counts map[string]int, capped map[string]bool, err error) {
	counts, capped = map[string]int{}, map[string]bool{}
	seen := map[string]bool{}
	for _, h := range held {
		if seen[h.Provider] {
			continue
		}
		seen[h.Provider] = true
		f := relay.EventFilter{Provider: h.Provider, Limit: 1000}
		for n := 0; ; {
			page, err := d.deps.Store.ListEvents(r.Context(), f)
			if err != nil {
				return nil, nil, err
			}
			for _, e := range page.Items {
				if e.Match == relay.MatchUnmatched {
					counts[e.Provider+"\x00"+e.AccountID]++
				}
			}
			n += len(page.Items)
			if page.Next == "" {
				break
			}
			if n >= countCap {
				capped[h.Provider] = true
				break
			}
			f.Cursor = page.Next
		}
	}
	return counts, capped, nil
}

func (d *Dashboard) handleIdentity(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Identity repair is shown to admin keys."))
		return
	}
	v := identityView{Enabled: d.deps.Resolutions != nil}
	if v.Enabled {
		var err error
		if v.Resolutions, err = d.deps.Resolutions.ListResolutions(r.Context(), "", 200); err != nil {
			d.fail(w, r, s, err)
			return
		}
		held, err := d.deps.Resolutions.HeldAccounts(r.Context(), d.deps.Providers, 200)
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		counts, capped, err := d.heldCounts(r, held)
		if err != nil {
			d.fail(w, r, s, err)
			return
		}
		for _, h := range held {
			v.Held = append(v.Held, heldRow{HeldAccount: h, Events: counts[h.Provider+"\x00"+h.AccountID], Capped: capped[h.Provider]})
		}
	}
	d.render(w, r, s, http.StatusOK, "identity", "Identity", v)
}

// keysView is the Orgs & API keys page's data. Keys are shown by name,
// prefix and use; never a hash.
type keysView struct {
	Orgs []*relay.Org
	Keys []*relay.APIKey
}

func (d *Dashboard) handleKeys(w http.ResponseWriter, r *http.Request, s *session) {
	var v keysView
	var err error
	if v.Keys, err = d.deps.Store.ListAPIKeys(r.Context(), s.key.OrgID); err != nil {
		d.fail(w, r, s, err)
		return
	}
	if d.deps.Conns != nil {
		if s.key.IsAdmin() {
			v.Orgs, err = d.deps.Conns.ListOrgs(r.Context())
		} else {
			var o *relay.Org
			if o, err = d.deps.Conns.GetOrg(r.Context(), s.key.OrgID); err == nil {
				v.Orgs = []*relay.Org{o}
			}
		}
		if err != nil && relay.ErrorCode(err) != relay.ENOTFOUND {
			d.fail(w, r, s, err)
			return
		}
	}
	d.render(w, r, s, http.StatusOK, "keys", "Orgs & API keys", v)
}
