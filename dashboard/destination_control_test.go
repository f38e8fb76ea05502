package dashboard_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/dashboard"
	"github.com/relayhq/relay/delivery"
	"github.com/relayhq/relay/metrics"
)

// addDestination stores an enabled destination sending to target.
func (f *fixture) addDestination(name, target string) *relay.Destination {
	f.t.Helper()
	d := &relay.Destination{ID: relay.NewID("dst", f.now), Name: name, URL: target, MaxConcurrency: 1,
		Timeout: relay.Duration(5 * time.Second), Secret: relay.NewSecret(), CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.store.CreateDestination(context.Background(), d); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// postRaw posts form as is: no CSRF token is added.
func (f *fixture) postRaw(c *http.Client, path string, form url.Values) int {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkAdminOnlyWithCSRF checks that path refuses a POST without the CSRF
// token and one from an org key's session.
func (f *fixture) checkAdminOnlyWithCSRF(admin *http.Client, path string) {
	f.t.Helper()
	if code := f.postRaw(admin, path, url.Values{}); code != http.StatusForbidden {
		f.t.Errorf("POST %s without the CSRF token: %d, want 403", path, code)
	}
	o := f.browser()
	f.signIn(o, "acme")
	if code, _, _ := f.post(o, path, url.Values{}); code != http.StatusForbidden {
		f.t.Errorf("POST %s with an org key: %d, want 403", path, code)
	}
}

func TestSendTestEventFromTheDestinationsPage(t *testing.T) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(sink.Close)
	f := newFixtureWith(t, dashboard.Config{}, func(s relay.Store) dashboard.Deliverer {
		e := delivery.New(s, nil, metrics.New(), slog.New(slog.DiscardHandler), func() time.Time { return time.Now().UTC() },
			delivery.Config{Owner: "test", PollInterval: 50 * time.Millisecond})
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Stop(context.Background()) })
		return e
	})
	dst := f.addDestination("app", sink.URL)
	c := f.browser()
	f.signIn(c, "admin-1")
	if _, body := f.get(c, "/destinations"); !strings.Contains(body, `action="/destinations/`+dst.ID+`/test"`) {
		t.Fatalf("the Destinations page has no test button:\n%s", body)
	}
	f.checkAdminOnlyWithCSRF(c, "/destinations/"+dst.ID+"/test")

	code, _, body := f.post(c, "/destinations/"+dst.ID+"/test", url.Values{})
	if code != http.StatusOK {
		t.Fatalf("test: %d %s", code, body)
	}
	m := regexp.MustCompile(`(?s)id="test-outcome">(.*?)</p>`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(m[1], "succeeded") || !strings.Contains(body, "<td>204</td>") {
		t.Fatalf("the page does not show the succeeded attempt with HTTP 204:\n%s", body)
	}
	events, err := f.store.ListEvents(context.Background(), relay.EventFilter{Provider: "relay"})
	if err != nil || len(events.Items) != 1 || events.Items[0].EventType != relay.TestEventType {
		t.Fatalf("stored test events: %+v %v", events, err)
	}
}

func TestResumeAPausedDestinationFromTheDestinationsPage(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	dst := f.addDestination("app", "https://app.example/hook")
	if err := f.store.PauseDestination(context.Background(), dst.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := f.browser()
	f.signIn(c, "admin-1")
	if _, body := f.get(c, "/destinations"); !strings.Contains(body, `action="/destinations/`+dst.ID+`/resume"`) {
		t.Fatalf("the Destinations page has no resume button for a paused destination:\n%s", body)
	}
	f.checkAdminOnlyWithCSRF(c, "/destinations/"+dst.ID+"/resume")
	if got, _ := f.store.GetDestination(context.Background(), dst.ID); !got.PausedUntil.After(time.Now()) {
		t.Fatalf("refused resumes ended the pause: %v", got.PausedUntil)
	}

	code, loc, body := f.post(c, "/destinations/"+dst.ID+"/resume", url.Values{})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/destinations?flash=") {
		t.Fatalf("resume: %d %s %s", code, loc, body)
	}
	if got, _ := f.store.GetDestination(context.Background(), dst.ID); got.PausedUntil.After(time.Now()) {
		t.Errorf("still paused until %v", got.PausedUntil)
	}
	_, body = f.get(c, loc)
	if strings.Contains(body, `action="/destinations/`+dst.ID+`/resume"`) || !strings.Contains(body, "Destination resumed") {
		t.Errorf("after resuming, the page still offers resume or does not say it resumed:\n%s", body)
	}
}

func TestRotateSecretFromTheDestinationsPage(t *testing.T) {
	f := newFixture(t, dashboard.Config{RotationOverlap: 2 * time.Hour})
	dst := f.addDestination("app", "https://app.example/hook")
	c := f.browser()
	f.signIn(c, "admin-1")
	if _, body := f.get(c, "/destinations"); !strings.Contains(body, `action="/destinations/`+dst.ID+`/rotate-secret"`) {
		t.Fatalf("the Destinations page has no rotate button:\n%s", body)
	}
	f.checkAdminOnlyWithCSRF(c, "/destinations/"+dst.ID+"/rotate-secret")
	if got, _ := f.store.GetDestination(context.Background(), dst.ID); got.Secret != dst.Secret {
		t.Fatal("a refused rotation changed the secret")
	}

	before := time.Now()
	code, _, body := f.post(c, "/destinations/"+dst.ID+"/rotate-secret", url.Values{})
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %s", code, body)
	}
	body = html.UnescapeString(body) // a secret's + and / are escaped
	got, err := f.store.GetDestination(context.Background(), dst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret == dst.Secret || !strings.Contains(body, `id="secret">`+got.Secret+`<`) {
		t.Errorf("the page does not show the new secret %q:\n%s", got.Secret, body)
	}
	if got.PreviousSecretUntil.Before(before.Add(2*time.Hour)) || !strings.Contains(body, got.PreviousSecretUntil.UTC().Format("2006-01-02")) {
		t.Errorf("overlap ends %v; page:\n%s", got.PreviousSecretUntil, body)
	}
	if _, body := f.get(c, "/destinations"); strings.Contains(html.UnescapeString(body), got.Secret) {
		t.Error("the Destinations page shows the secret again")
	}
}
