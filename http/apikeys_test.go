package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/sqlite"
)

// keysClock is a settable clock for the servers of these tests.
type keysClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *keysClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *keysClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// touchCounter counts the usage writes of the store it wraps.
type touchCounter struct {
	relay.Store
	mu      sync.Mutex
	touches map[string]int
}

func (s *touchCounter) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	s.touches[id]++
	s.mu.Unlock()
	return s.Store.TouchAPIKey(ctx, id, at)
}

func (s *touchCounter) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touches[id]
}

// Keys of the key tests: an admin key, and keys of orgs acme and globex.
const (
	keysAdmin  = "rk_admin_0123456789abcdef0123456789abcdef"
	keysAcme   = "rk_acme_0123456789abcdef0123456789abcdef"
	keysGlobex = "rk_globex_0123456789abcdef0123456789abcdef"
)

// keysStore returns a migrated SQLite store holding the keys above.
func keysStore(t *testing.T) *touchCounter {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, k := range []struct{ id, org, secret string }{
		{"key_admin", "", keysAdmin}, {"key_acme", "acme", keysAcme}, {"key_globex", "globex", keysGlobex},
	} {
		if err := s.CreateAPIKey(ctx, &relay.APIKey{ID: k.id, OrgID: k.org, Name: k.id, Prefix: relay.APIKeyPrefix(k.secret),
			Hash: relay.HashAPIKey(k.secret), CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	return &touchCounter{Store: s, touches: map[string]int{}}
}

// keysServer runs a server (one replica) over store with clock.
func keysServer(t *testing.T, store relay.Store, clock *keysClock) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(relayhttp.NewServer(store, nil, nil, nil, metrics.New(), logger, clock.Now, relayhttp.Config{}))
	t.Cleanup(srv.Close)
	return srv
}

func keysGet(t *testing.T, base, key, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A key revoked on one replica stops working on another within five
// seconds, however recently that replica last saw it.
func TestRevokedKeyStopsOnOtherReplicas(t *testing.T) {
	store := keysStore(t)
	clock := &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	other := keysServer(t, store, clock)
	if code := keysGet(t, other.URL, keysAcme, "/api/v1/events"); code != http.StatusOK {
		t.Fatalf("acme key: %d, want 200", code)
	}
	if _, err := store.RevokeAPIKey(context.Background(), "key_acme", ""); err != nil {
		t.Fatal(err)
	}
	clock.Add(5 * time.Second)
	if code := keysGet(t, other.URL, keysAcme, "/api/v1/events"); code != http.StatusUnauthorized {
		t.Fatalf("revoked key 5 s later on another replica: %d, want 401", code)
	}
}

func keyIDs(keys []*relay.APIKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

// An admin key lists every key; an org key its own org's only; neither
// listing shows a key or its hash.
func TestListAPIKeysScoped(t *testing.T) {
	store := keysStore(t)
	srv := keysServer(t, store, &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()

	all, err := relayhttp.NewClient(srv.URL, keysAdmin).ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(all); !reflect.DeepEqual(got, []string{"key_admin", "key_acme", "key_globex"}) {
		t.Fatalf("admin sees %v", got)
	}
	if k := all[1]; k.OrgID != "acme" || k.Name != "key_acme" || k.Prefix != "rk_acm" || k.CreatedAt.IsZero() {
		t.Fatalf("listed key %+v", k)
	}
	mine, err := relayhttp.NewClient(srv.URL, keysGlobex).ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(mine); !reflect.DeepEqual(got, []string{"key_globex"}) {
		t.Fatalf("globex sees %v", got)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/api-keys", nil)
	req.Header.Set("Authorization", "Bearer "+keysAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{keysAdmin, keysAcme, keysGlobex} {
		if strings.Contains(string(body), secret) || strings.Contains(string(body), relay.HashAPIKey(secret)) {
			t.Fatalf("the listing shows a key or its hash: %s", body)
		}
	}
}

// An org key cannot revoke another org's key (404, as if unknown) nor an
// admin key; it revokes its own org's; an admin revokes any but the last
// admin key.
func TestRevokeAPIKeyScoped(t *testing.T) {
	store := keysStore(t)
	srv := keysServer(t, store, &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	admin, acme, globex := relayhttp.NewClient(srv.URL, keysAdmin), relayhttp.NewClient(srv.URL, keysAcme), relayhttp.NewClient(srv.URL, keysGlobex)

	if err := globex.RevokeAPIKey(ctx, "key_acme"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("globex revoking acme's key: %v, want ENOTFOUND", err)
	}
	if err := globex.RevokeAPIKey(ctx, "key_admin"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("globex revoking the admin key: %v, want ENOTFOUND", err)
	}
	if _, err := acme.ListAPIKeys(ctx); err != nil {
		t.Fatalf("acme's key after globex tried to revoke it: %v", err)
	}
	if err := admin.RevokeAPIKey(ctx, "key_admin"); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("revoking the last admin key: %v, want ECONFLICT", err)
	}
	if err := admin.RevokeAPIKey(ctx, "key_nope"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("revoking an unknown key: %v, want ENOTFOUND", err)
	}
	if err := globex.RevokeAPIKey(ctx, "key_globex"); err != nil {
		t.Fatalf("globex revoking its own key: %v", err)
	}
	if _, err := globex.ListAPIKeys(ctx); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("globex's revoked key: %v, want EUNAUTHORIZED", err)
	}
	if err := admin.RevokeAPIKey(ctx, "key_acme"); err != nil {
		t.Fatalf("admin revoking acme's key: %v", err)
	}
	left, err := admin.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(left); !reflect.DeepEqual(got, []string{"key_admin"}) {
		t.Fatalf("keys left %v", got)
	}
}

// A key revoked on a replica fails there at once, even though that replica
// had it cached a moment before.
func TestRevokedKeyFailsAtOnce(t *testing.T) {
	store := keysStore(t)
	srv := keysServer(t, store, &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	if code := keysGet(t, srv.URL, keysAcme, "/api/v1/events"); code != http.StatusOK {
		t.Fatalf("acme key: %d", code)
	}
	if err := relayhttp.NewClient(srv.URL, keysAdmin).RevokeAPIKey(ctx, "key_acme"); err != nil {
		t.Fatal(err)
	}
	if code := keysGet(t, srv.URL, keysAcme, "/api/v1/events"); code != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d, want 401", code)
	}
}

// An admin creates an admin key, which works at once and is listed with its
// prefix; org keys cannot; reserved and empty names are refused.
func TestCreateAdminAPIKey(t *testing.T) {
	store := keysStore(t)
	srv := keysServer(t, store, &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	admin := relayhttp.NewClient(srv.URL, keysAdmin)

	k, secret, err := admin.CreateAdminAPIKey(ctx, "ops 2026-03")
	if err != nil {
		t.Fatal(err)
	}
	if !k.IsAdmin() || k.Name != "ops 2026-03" || !strings.HasPrefix(secret, "rk_") || k.Prefix != secret[:11] {
		t.Fatalf("created %+v, secret of %d characters", k, len(secret))
	}
	all, err := relayhttp.NewClient(srv.URL, secret).ListAPIKeys(ctx)
	if err != nil {
		t.Fatalf("the new key: %v", err)
	}
	if got := keyIDs(all); len(got) != 4 || got[3] != k.ID {
		t.Fatalf("keys %v", got)
	}
	// The old admin key can go now that there is another.
	if err := admin.RevokeAPIKey(ctx, "key_admin"); err != nil {
		t.Fatal(err)
	}

	if _, _, err := relayhttp.NewClient(srv.URL, keysAcme).CreateAdminAPIKey(ctx, "x"); relay.ErrorCode(err) != relay.EFORBIDDEN {
		t.Fatalf("org key creating an admin key: %v, want EFORBIDDEN", err)
	}
	newAdmin := relayhttp.NewClient(srv.URL, secret)
	for _, name := range []string{"", relay.GeneratedAdminKeyName, relay.ConfiguredAdminKeyName, strings.Repeat("n", 201)} {
		if _, _, err := newAdmin.CreateAdminAPIKey(ctx, name); relay.ErrorCode(err) != relay.EINVALID {
			t.Fatalf("name %q: %v, want EINVALID", name, err)
		}
	}
}

// A key's use is written at most once a minute, not on every request, and
// shows as last_used_at.
func TestAPIKeyUseRecordedOncePerMinute(t *testing.T) {
	store := keysStore(t)
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := &keysClock{now: start}
	srv := keysServer(t, store, clock)
	ctx := context.Background()
	acme := relayhttp.NewClient(srv.URL, keysAcme)

	for i := 0; i < 5; i++ {
		if _, err := acme.ListAPIKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(30 * time.Second)
	keys, err := acme.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.count("key_acme"); n != 1 {
		t.Fatalf("%d usage writes in 30 s, want 1", n)
	}
	if !keys[0].LastUsedAt.Equal(start) {
		t.Fatalf("last used %v, want %v", keys[0].LastUsedAt, start)
	}
	clock.Add(31 * time.Second)
	keys, err = acme.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.count("key_acme"); n != 2 {
		t.Fatalf("%d usage writes after 61 s, want 2", n)
	}
	if want := start.Add(61 * time.Second); !keys[0].LastUsedAt.Equal(want) {
		t.Fatalf("last used %v, want %v", keys[0].LastUsedAt, want)
	}
}

// slowFind holds the first lookup of one key after reading it, until
// released, to overlap a revocation.
type slowFind struct {
	relay.Store
	hash     string
	once     sync.Once
	read     chan struct{}
	released chan struct{}
}

func (s *slowFind) FindAPIKey(ctx context.Context, hash string) (*relay.APIKey, error) {
	k, err := s.Store.FindAPIKey(ctx, hash)
	if hash == s.hash {
		s.once.Do(func() { close(s.read); <-s.released })
	}
	return k, err
}

// A lookup that read a key just before it was revoked here does not put it
// back in the cache: the next request with it fails.
func TestRevokeDuringLookupNotCached(t *testing.T) {
	store := &slowFind{Store: keysStore(t), hash: relay.HashAPIKey(keysAcme), read: make(chan struct{}), released: make(chan struct{})}
	srv := keysServer(t, store, &keysClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	first := make(chan struct{})
	go func() {
		defer close(first)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+keysAcme)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-store.read
	if err := relayhttp.NewClient(srv.URL, keysAdmin).RevokeAPIKey(context.Background(), "key_acme"); err != nil {
		t.Fatal(err)
	}
	close(store.released)
	<-first // it began before the revocation: either answer is fair
	if code := keysGet(t, srv.URL, keysAcme, "/api/v1/events"); code != http.StatusUnauthorized {
		t.Fatalf("revoked key after an overlapping lookup: %d, want 401", code)
	}
}
