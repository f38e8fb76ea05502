package connect

import (
	"context"
	"sync"
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
type matchCache struct {
	mu      sync.RWMutex
	entries map[matchKey]matchEntry
}

// maxCacheEntries bounds the cache; past it, it starts over.
const maxCacheEntries = 100_000

// Match sets the event's OrgID, ConnectionID and Match from the connection
// that owns its account (or, failing that, its resource). Events that name
// no account are left MatchNone; events whose account and resource no live
// connection knows are MatchUnmatched, held for org-filtered destinations
// until a connection appears. A store failure leaves the event unmatched
// (it is then held, not lost) and is logged.
func (s *Service) Match(e *relay.Event) {
	if e.AccountID == "" && e.ResourceID == "" {
		e.Match = relay.MatchNone
		return
	}
	if e.AccountID != "" {
		if m, ok := s.lookup(matchKey{"a", e.Provider, e.AccountID}); ok {
			e.OrgID, e.ConnectionID, e.Match = m.orgID, m.connectionID, relay.MatchMatched
			return
		}
	}
	if e.ResourceID != "" {
		if m, ok := s.lookup(matchKey{"r", e.Provider, e.ResourceID}); ok {
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
func (s *Service) lookup(k matchKey) (matchEntry, bool) {
	now := s.now()
	s.cache.mu.RLock()
	m, ok := s.cache.entries[k]
	s.cache.mu.RUnlock()
	if ok && now.Before(m.until) {
		return m, m.connectionID != ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
	if len(s.cache.entries) >= maxCacheEntries {
		s.cache.entries = map[matchKey]matchEntry{}
	}
	s.cache.entries[k] = m
	s.cache.mu.Unlock()
	return m, m.connectionID != ""
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
