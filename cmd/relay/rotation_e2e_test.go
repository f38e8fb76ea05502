package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/storetest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

var whsecRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)

// After `relay destinations rotate-secret`, a consumer verifying with only
// the old secret, and one verifying with only the new secret, both accept
// every delivery during the overlap — also after a restart with the config
// file still naming the old secret, which does not undo the rotation. A
// rotation with no overlap signs with the new secret only.
func TestRotateSecretOverlap(t *testing.T) { testRotateSecretOverlap(t, nil) }

// The same on PostgreSQL.
func TestRotateSecretOverlapPostgres(t *testing.T) {
	testRotateSecretOverlap(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testRotateSecretOverlap(t *testing.T, env map[string]string) {
	dataDir := filepath.Join(t.TempDir(), "data")
	sink := newCollector(t)
	cfg := destctlConfig(sink.URL, "")
	p := serveIn(t, dataDir, cfg, env)
	checkAPISpec(t, p.url)
	dst := appDestination(t, relayhttp.NewClient(p.url, testAdminKey))

	out, _, err := keysCLI(p.url, testAdminKey, "destinations", "rotate-secret", dst.ID)
	if err != nil {
		t.Fatalf("relay destinations rotate-secret: %v\n%s", err, out)
	}
	newSecret := whsecRE.FindString(out)
	if newSecret == "" || newSecret == testDestination {
		t.Fatalf("rotate-secret printed no new secret:\n%s", out)
	}
	if show, _, err := keysCLI(p.url, testAdminKey, "destinations", "show", dst.ID); err != nil || !strings.Contains(show, "Old secret signs until") || strings.Contains(show, "whsec_") {
		t.Errorf("relay destinations show after a rotation: %v\n%s", err, show)
	}
	oldOnly, err := standardwebhooks.NewWebhook(testDestination)
	if err != nil {
		t.Fatal(err)
	}
	newOnly, err := standardwebhooks.NewWebhook(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	acceptedByBoth := func(from int) {
		t.Helper()
		got := sink.all()[from:]
		for _, d := range got {
			if err := oldOnly.Verify(d.body, d.header); err != nil {
				t.Errorf("a consumer with only the old secret rejects a delivery during the overlap: %v (%s)", err, d.header.Get("webhook-signature"))
			}
			if err := newOnly.Verify(d.body, d.header); err != nil {
				t.Errorf("a consumer with only the new secret rejects a delivery during the overlap: %v", err)
			}
		}
	}

	sendBilling(t, p.url, "msg_rot_a", 3)
	waitUntil(t, "3 deliveries", func() bool { return len(sink.all()) >= 3 })
	acceptedByBoth(0)

	// A restart with the config file unchanged (it names the old secret).
	p.stop(t)
	p = serveIn(t, dataDir, cfg, env)
	checkAPISpec(t, p.url)
	sendBilling(t, p.url, "msg_rot_b", 2)
	waitUntil(t, "2 more deliveries", func() bool { return len(sink.all()) >= 5 })
	acceptedByBoth(3)

	// No overlap: the newest secret alone signs at once.
	out, _, err = keysCLI(p.url, testAdminKey, "destinations", "rotate-secret", "--overlap", "0s", dst.ID)
	if err != nil {
		t.Fatalf("rotate-secret --overlap 0s: %v\n%s", err, out)
	}
	newest, err := standardwebhooks.NewWebhook(whsecRE.FindString(out))
	if err != nil {
		t.Fatal(err)
	}
	sendBilling(t, p.url, "msg_rot_c", 1)
	waitUntil(t, "one more delivery", func() bool { return len(sink.all()) >= 6 })
	last := sink.all()[5]
	if sig := last.header.Get("webhook-signature"); strings.Contains(sig, " ") {
		t.Errorf("webhook-signature %q after a rotation without overlap: want one signature", sig)
	}
	if err := newest.Verify(last.body, last.header); err != nil {
		t.Errorf("newest secret: %v", err)
	}
	if err := newOnly.Verify(last.body, last.header); err == nil {
		t.Error("the replaced secret still verifies after a rotation without overlap")
	}
	if code := apiCall(t, http.MethodPost, p.url+"/api/v1/destinations/"+dst.ID+"/rotate-secret", testAdminKey,
		map[string]string{"overlap": "-1s"}, nil); code != http.StatusBadRequest {
		t.Errorf("negative overlap: %d, want 400", code)
	}
}
