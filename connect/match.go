package connect

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhq/relay"
)

// matchKey is a cached lookup: by account ("a") or by resource ("r").
type matchKey struct {
	kind, provider, id string
}

type matchEntry struct {
	orgID, connectionID string // "" when no live connection has it
	until               time.Time
}

// matchCache sits in front of the store on the ingest path: a hit is a map
// read; a miss reads the store once and remembers the answer, found or not.
//
// Changes made on this replica forget their entries at once. Changes made
// on another replica are learnt from the store's connection generation,
// which every routing change increases in its own transaction: at most
// once per GenerationInterval, one Match reads it, and when it moved the
// whole cache is dropped. An entry read from the store is kept only if the
// generation known when the read began is still the cache's, so a read
// that raced a change cannot outlive the drop.
type matchCache struct {
	mu         sync.RWMutex
	entries    map[matchKey]matchEntry
	generation int64 // the store's generation the entries agree with; -1 before the first check

	checkedAt atomic.Int64 // unix nanoseconds of the last generation check
	checking  atomic.Bool  // one generation check at a time
}

// maxCacheEntries bounds the cache; past it, it starts over.
const maxCacheEntries = 100_000

// Match sets the event's OrgID, ConnectionID and Match from the connection
// that owns its account (or, failing that, its resource). Events that name
// no account are left MatchNone; events whose account and resource no live
// connection knows are MatchUnmatched, held for org-filtered destinations
// until a connection appears. A store failure leaves the event unmatched
// (it is then held, not lost) and is logged. Lookups the cache cannot
// answer run under ctx, the request's, so they end with it.
func (s *Service) Match(ctx context.Context, e *relay.Event) {
	if e.AccountID == "" && e.ResourceID == "" {
		e.Match = relay.MatchNone
		return
	}
	s.syncGeneration(ctx)
	if e.AccountID != "" {
		if m, ok := s.lookup(ctx, matchKey{"a", e.Provider, e.AccountID}); ok {
			e.OrgID, e.ConnectionID, e.Match = m.orgID, m.connectionID, relay.MatchMatched
			return
		}
	}
	if e.ResourceID != "" {
		if m, ok := s.lookup(ctx, matchKey{"r", e.Provider, e.ResourceID}); ok {
			e.OrgID, e.ConnectionID, e.Match = m.orgID, m.connectionID, relay.MatchMatched
			return
		}
	}
	if e.AccountID == "" {
		// Only a resource, and nobody has it: nothing to hold the event for.
		e.Match = relay.MatchNone
		return
	}
	e.Match = relay.MatchUnmatched
}

// lookup returns the live connection for k, from the cache or the store.
func (s *Service) lookup(ctx context.Context, k matchKey) (matchEntry, bool) {
	now := s.now()
	s.cache.mu.RLock()
	m, ok := s.cache.entries[k]
	s.cache.mu.RUnlock()
	if ok && now.Before(m.until) {
		return m, m.connectionID != ""
	}
	s.cache.mu.RLock()
	gen := s.cache.generation
	s.cache.mu.RUnlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var c *relay.Connection
	var err error
	if k.kind == "a" {
		c, err = s.store.FindConnection(ctx, k.provider, k.id)
	} else {
		c, err = s.store.FindConnectionByResource(ctx, k.provider, k.id)
	}
	switch {
	case err == nil:
		// A suspended or revoked connection's events are still its org's.
		m = matchEntry{orgID: c.OrgID, connectionID: c.ID, until: now.Add(s.cfg.PositiveTTL)}
	case relay.ErrorCode(err) == relay.ENOTFOUND:
		m = matchEntry{until: now.Add(s.cfg.NegativeTTL)}
	default:
		s.logger.Warn("connect: matching an event to its connection failed; holding it", "provider", k.provider, "err", err)
		return matchEntry{}, false // not cached: the next event tries again
	}
	s.cache.mu.Lock()
	if s.cache.generation == gen {
		if len(s.cache.entries) >= maxCacheEntries {
			s.cache.entries = map[matchKey]matchEntry{}
		}
		s.cache.entries[k] = m
	}
	s.cache.mu.Unlock()
	return m, m.connectionID != ""
}

// syncGeneration drops the cache when the store's connection generation
// moved since the last check, checking at most once per
// GenerationInterval; callers that find a check due while another runs
// use the cache as it is. A failed read keeps the cache (entries still
// expire by their TTL) and is logged.
func (s *Service) syncGeneration(ctx context.Context) {
	now := s.now()
	if now.UnixNano()-s.cache.checkedAt.Load() < int64(s.cfg.GenerationInterval) || !s.cache.checking.CompareAndSwap(false, true) {
		return
	}
	defer s.cache.checking.Store(false)
	s.cache.checkedAt.Store(now.UnixNano())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	gen, err := s.store.ConnectionGeneration(ctx)
	cancel()
	if err != nil {
		s.logger.Warn("connect: reading the connection generation failed; the match cache may lag other replicas", "err", err)
		return
	}
	s.cache.mu.Lock()
	if gen != s.cache.generation {
		s.cache.entries = map[matchKey]matchEntry{}
		s.cache.generation = gen
	}
	s.cache.mu.Unlock()
}

// Invalidate forgets what the cache knows about a provider account.
func (s *Service) Invalidate(provider, accountID string) {
	s.cache.mu.Lock()
	delete(s.cache.entries, matchKey{"a", provider, accountID})
	s.cache.mu.Unlock()
}

func (s *Service) invalidateResource(provider, resourceID string) {
	s.cache.mu.Lock()
	delete(s.cache.entries, matchKey{"r", provider, resourceID})
	s.cache.mu.Unlock()
}

// invalidateConnection forgets every cache entry pointing at a connection.
func (s *Service) invalidateConnection(connectionID string) {
	s.cache.mu.Lock()
	for k, m := range s.cache.entries {
		if m.connectionID == connectionID {
			delete(s.cache.entries, k)
		}
	}
	s.cache.mu.Unlock()
}
