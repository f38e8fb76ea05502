package backfill

import (
	"context"
	"slices"
	"time"

	"github.com/relayhq/relay"
)

// connLimit is a connection's provider rate limit as this process last saw
// it, shared by the connection's tasks: a request is only sent while the
// remaining budget covers it and the requests already in flight.
type connLimit struct {
	remaining int
	reset     time.Time
	known     bool
	inflight  int
}

// acquire reserves one request of the connection's budget, or returns when
// the budget resets.
func (s *Service) acquire(connectionID string, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits[connectionID]
	if l == nil {
		l = &connLimit{}
		s.limits[connectionID] = l
	}
	if l.known && now.Before(l.reset) && l.remaining-l.inflight <= 0 {
		return l.reset, false
	}
	if l.known && !now.Before(l.reset) && l.inflight > 0 {
		// The window reset, and its budget is not known until an answer
		// of the new window arrives: one request at a time finds it out,
		// so that tasks starting together at the reset cannot overshoot a
		// small limit.
		return now.Add(newWindowProbe), false
	}
	l.inflight++
	return time.Time{}, true
}

// newWindowProbe is how long a task waits while another task's request
// learns the budget of a window that has just reset.
const newWindowProbe = 250 * time.Millisecond

// release returns the reservation and records what the answer said. A
// rate-limited answer (retryAt set) used the budget up: no request goes out
// before the later of retryAt and the window's known reset.
func (s *Service) release(connectionID string, rl relay.RateLimit, retryAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits[connectionID]
	l.inflight--
	if !retryAt.IsZero() {
		l.known, l.remaining = true, 0
		l.reset = later(l.reset, retryAt)
		return
	}
	switch {
	case !rl.Known:
	case !l.known || rl.Reset.After(l.reset):
		l.known, l.remaining, l.reset = true, rl.Remaining, rl.Reset // a new window
	case !rl.Reset.Before(l.reset):
		// The same window: answers can arrive out of order; the lowest
		// remaining is the latest.
		l.remaining = min(l.remaining, rl.Remaining)
	}
	if l.inflight == 0 && !l.known {
		delete(s.limits, connectionID)
	}
}

// RunTask is a task's job: it fetches and commits pages until the task is
// done or its time slice is used up. It returns again with a wait when the
// job should run again later: at once after a slice, at the reset of a rate
// limit, after BackpressureWait while the connection's deliveries are
// backed up. A failed fetch is recorded on the task and returned, to be
// retried with backoff; at attempt MaxAttempts (or for an answer that a
// retry cannot change) the task fails with that error instead.
func (s *Service) RunTask(ctx context.Context, taskID string, attempt int) (again bool, after time.Duration, err error) {
	t, err := s.store.GetBackfillTask(ctx, taskID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return false, 0, nil
	} else if err != nil {
		return false, 0, err
	}
	if t.Finished() {
		return false, 0, s.next(ctx, t.BackfillID)
	}
	b, err := s.store.GetBackfill(ctx, t.BackfillID, "")
	if err != nil {
		return false, 0, err
	}
	if !b.Active() {
		return false, 0, nil
	}
	log := s.logger.With("backfill_id", b.ID, "task_id", t.ID, "entity", t.EntityType, "resource_id", t.ResourceID)
	c, err := s.store.GetConnection(ctx, b.ConnectionID, "")
	if err != nil {
		return false, 0, err
	}
	lister, ok := s.listers[c.Provider]
	if !ok {
		return false, 0, s.finish(ctx, t, relay.TaskFailed, "provider "+c.Provider+" has no backfill configured")
	}
	if c.Status != relay.ConnectionActive {
		return false, 0, s.finish(ctx, t, relay.TaskFailed, "connection is "+c.Status)
	}
	res := &relay.Resource{ConnectionID: c.ID, Provider: c.Provider, ExternalID: t.ResourceID, Name: t.ResourceName,
		Kind: lister.BackfillEntities()[t.EntityType]}
	until := b.CreatedAt
	deadline := s.now().Add(s.cfg.Slice)
	status := t.Status
	setStatus := func(st string, waited bool) error {
		if st == status && !waited {
			return nil
		}
		status = st
		err := s.store.UpdateBackfillTask(ctx, t.ID, st, "", waited, s.now())
		if relay.ErrorCode(err) == relay.ECONFLICT {
			return nil // finished meanwhile (cancelled): the next look sees it
		}
		return err
	}
	rejected := ""
	for {
		if err := ctx.Err(); err != nil {
			return true, 0, nil // shutting down: run again at the next start
		}
		if !s.now().Before(deadline) {
			return true, 0, nil // yield the worker; queued again at once
		}
		// Stop within one page of a cancellation.
		if cur, err := s.store.GetBackfillTask(ctx, t.ID); err != nil {
			return false, 0, err
		} else if cur.Finished() {
			return false, 0, nil
		} else if cur.Cursor != t.Cursor {
			t = cur // another run of this task moved on (a rescued job): continue from there
		}
		// Backpressure: wait while the connection's deliveries are backed up.
		n, err := s.undelivered(ctx, c.ID)
		if err != nil {
			return false, 0, err
		}
		if n > s.cfg.MaxUndelivered {
			s.mu.Lock()
			delete(s.backlogs, c.ID) // count afresh after the wait
			s.mu.Unlock()
			s.count(c.Provider, "backpressure")
			if err := setStatus(relay.TaskWaiting, false); err != nil {
				return false, 0, err
			}
			return true, s.cfg.BackpressureWait, nil
		}
		now := s.now()
		if reset, ok := s.acquire(c.ID, now); !ok {
			log.Info("backfill waiting for the rate limit to reset", "reset", reset)
			s.count(c.Provider, "rate_limit")
			if err := setStatus(relay.TaskWaiting, true); err != nil {
				return false, 0, err
			}
			return true, reset.Sub(now) + 100*time.Millisecond, nil
		}
		tok, err := s.tokens.Token(ctx, c.ID, "")
		var page *relay.BackfillResult
		if err == nil {
			page, err = lister.ListBackfillPage(ctx, c, tok, res, t.EntityType, b.Since, t.Cursor)
		}
		rl := relay.RateLimit{}
		if page != nil {
			rl = page.RateLimit
		}
		s.release(c.ID, rl, relay.RetryAt(err))
		if relay.ErrorCode(err) == relay.EUNAUTHORIZED && tok != nil && rejected == "" {
			// The provider rejected a token we thought valid: refresh once.
			rejected = tok.AccessToken
			if _, err := s.tokens.Refresh(ctx, c.ID, rejected); err != nil {
				log.Warn("backfill: token refresh after a 401 failed", "err", err)
			}
			continue
		}
		if err != nil {
			if at := relay.RetryAt(err); !at.IsZero() {
				log.Info("backfill waiting: the provider asked to retry later", "retry_at", at, "err", errString(err))
				s.count(c.Provider, "rate_limit")
				if err := setStatus(relay.TaskWaiting, true); err != nil {
					return false, 0, err
				}
				return true, max(at.Sub(s.now()), 0), nil
			}
			msg := errString(err)
			code := relay.ErrorCode(err)
			if s.metrics != nil {
				s.metrics.BackfillErrors.WithLabelValues(c.Provider).Inc()
			}
			if attempt >= s.cfg.MaxAttempts || code == relay.EINVALID || code == relay.EUNAUTHORIZED {
				log.Warn("backfill task failed", "attempt", attempt, "err", msg)
				return false, 0, s.finish(ctx, t, relay.TaskFailed, msg)
			}
			log.Warn("backfill page failed; retrying", "attempt", attempt, "err", msg)
			if uerr := s.store.UpdateBackfillTask(ctx, t.ID, status, msg, false, s.now()); uerr != nil && relay.ErrorCode(uerr) != relay.ECONFLICT {
				return false, 0, uerr
			}
			return false, 0, err
		}
		rejected = ""

		items, dsts := s.items(c, page.Items, b.Since, until)
		commit := &relay.BackfillPage{TaskID: t.ID, PrevCursor: t.Cursor, Cursor: page.Next, Last: page.Next == "",
			Items: items, Now: s.now()}
		dispatched, err := s.commits.commit(ctx, commit, dsts)
		if relay.ErrorCode(err) == relay.ECONFLICT {
			continue // cancelled, or another run committed this page: look again
		} else if err != nil {
			return false, 0, err
		}
		status = relay.TaskRunning
		s.committed(c.ID, items)
		if s.metrics != nil {
			s.metrics.BackfillPages.WithLabelValues(c.Provider).Inc()
			stored := 0
			for _, it := range items {
				if !it.Duplicate {
					stored++
				}
			}
			s.metrics.BackfillItems.WithLabelValues(c.Provider).Add(float64(stored))
		}
		if len(items) > 0 && (!dispatched || anyOrdered(items)) {
			s.wake() // deliveries for the poller: unleased, or ordered
		}
		if commit.Last {
			log.Info("backfill task done")
			return false, 0, s.next(ctx, t.BackfillID)
		}
		t.Cursor = page.Next
	}
}

// items turns a page into events for the connection's org, keeping the
// objects updated inside the backfill's window. Event ids are given in the
// order of the provider's updated-at: ids are arrival order, which an
// ordered destination delivers a key's events in.
//
// dsts[i] are the destinations of items[i]'s deliveries, in order.
func (s *Service) items(c *relay.Connection, page []*relay.BackfillItem, since, until time.Time) (items []*relay.IngestItem, dsts [][]*relay.Destination) {
	now := s.now()
	page = slices.Clone(page)
	slices.SortStableFunc(page, func(a, b *relay.BackfillItem) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	items = make([]*relay.IngestItem, 0, len(page))
	dsts = make([][]*relay.Destination, 0, len(page))
	for _, it := range page {
		if it.UpdatedAt.Before(since) || it.UpdatedAt.After(until) {
			continue
		}
		e := &relay.Event{ID: relay.NewID("evt", now), Provider: c.Provider, DeliveryID: it.DeliveryID, EventType: it.EventType,
			Source: relay.SourceBackfill, AccountID: c.ExternalID, ResourceID: it.ResourceID, OrgID: c.OrgID,
			ConnectionID: c.ID, Match: relay.MatchMatched, Payload: it.Payload, ReceivedAt: relay.EventTime(now)}
		d := s.route(e)
		items = append(items, relay.PlanEvent(e, d, now))
		dsts = append(dsts, d)
	}
	return items, dsts
}

// anyOrdered reports whether any of the items' deliveries is ordered: those
// are never handed over at commit (ClaimDue decides their turn).
func anyOrdered(items []*relay.IngestItem) bool {
	for _, it := range items {
		for _, d := range it.Deliveries {
			if d.Ordered() {
				return true
			}
		}
	}
	return false
}

// count counts a wait in the metrics.
func (s *Service) count(provider, reason string) {
	if s.metrics != nil {
		s.metrics.BackfillWaits.WithLabelValues(provider, reason).Inc()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// undeliveredTTL is how long a connection's undelivered count is reused
// between pages: counting scans the connection's waiting deliveries (up to
// the bound), too costly to repeat for every page of every task. Pages
// committed meanwhile are added to it, so only live events arriving within
// the TTL can take the count past the bound unseen.
const undeliveredTTL = 250 * time.Millisecond

// backlog is a connection's undelivered count as last counted, plus the
// deliveries its backfill pages added since.
type backlog struct {
	n  int
	at time.Time
}

// undelivered returns the connection's undelivered deliveries (at most
// MaxUndelivered+1), counted again once the last count is undeliveredTTL
// old.
func (s *Service) undelivered(ctx context.Context, connectionID string) (int, error) {
	now := s.now()
	s.mu.Lock()
	b, ok := s.backlogs[connectionID]
	s.mu.Unlock()
	if ok && now.Sub(b.at) < undeliveredTTL && now.Sub(b.at) >= 0 {
		return b.n, nil
	}
	n, err := s.store.Undelivered(ctx, connectionID, s.cfg.MaxUndelivered)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if len(s.backlogs) > 10_000 {
		s.backlogs = map[string]backlog{}
	}
	s.backlogs[connectionID] = backlog{n: n, at: now}
	s.mu.Unlock()
	return n, nil
}

// committed adds a committed page's deliveries to the connection's counted
// backlog (duplicates included: an overestimate only waits sooner).
func (s *Service) committed(connectionID string, items []*relay.IngestItem) {
	d := 0
	for _, it := range items {
		d += len(it.Deliveries)
	}
	s.mu.Lock()
	if b, ok := s.backlogs[connectionID]; ok {
		b.n += d
		s.backlogs[connectionID] = b
	}
	s.mu.Unlock()
}
