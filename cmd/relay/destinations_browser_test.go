package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The Destinations page's buttons in a real browser: a test event shows
// its succeeded attempt, and a rotation shows the new secret once, with
// until when the replaced one signs.
func TestDestinationButtonsInBrowser(t *testing.T) {
	chromiumPath(t) // skip before starting anything when there is no browser
	shots, err := os.MkdirTemp("", "relay-dashboard-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	sink := newCollector(t)
	relayP := startRelay(t, fmt.Sprintf(`
admin_api_key: %q
public_url: http://relay.example
log_level: warn
destinations:
  - {name: app, url: %q, secret: %q}
`, testAdminKey, sink.URL, testDestination), nil)
	const pub = "http://relay.example"
	browser := newChromium(t, "relay.example", strings.TrimPrefix(relayP.url, "http://"))
	admin := tab(t, browser)
	signIn(t, admin, pub, testAdminKey)

	do(t, admin, "send a test event", chromedp.Navigate(pub+"/destinations"),
		chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)), chromedp.WaitVisible(chromedp.ID("test-outcome")))
	if text := get(t, admin, "read the outcome", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "succeeded") || !strings.Contains(text, "200") {
		t.Errorf("the test's page does not show the succeeded attempt:\n%s", text)
	}
	if got := sink.all(); len(got) != 1 || got[0].env["event_type"] != "relay.test" {
		t.Errorf("the destination received %d requests, want the relay.test event", len(got))
	}
	screenshot(t, admin, shots, "destination-test")

	do(t, admin, "rotate the secret", chromedp.Navigate(pub+"/destinations"),
		chromedp.Click(chromedp.CSS(`form[action$="/rotate-secret"] button`)), chromedp.WaitVisible(chromedp.ID("secret")))
	secret := strings.TrimSpace(get(t, admin, "read the new secret", chromedp.Text(chromedp.ID("secret"))))
	if !strings.HasPrefix(secret, "whsec_") || secret == testDestination {
		t.Fatalf("the page shows %q as the new secret", secret)
	}
	if text := get(t, admin, "read the overlap", chromedp.Text(chromedp.ID("overlap"))); !strings.Contains(text, "replaced secret") {
		t.Errorf("the page does not say until when the replaced secret signs: %q", text)
	}
	do(t, admin, "back to Destinations", chromedp.Navigate(pub+"/destinations"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if text := get(t, admin, "read Destinations", chromedp.Text(chromedp.CSS("main"))); strings.Contains(text, secret) {
		t.Error("the Destinations page shows the secret again")
	}
	screenshot(t, admin, shots, "destinations")
}
