package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// A destination ordered by resource whose app keeps failing: the key's
// head is retried while the events behind it wait, and the API, the
// client and the CLI show the blocked key.
func TestOrderedDestinationBlockedKeys(t *testing.T) {
	sink := newCollector(t)
	sink.code = http.StatusServiceUnavailable
	cfg := strings.Replace(e2eConfig(sink.URL), fmt.Sprintf("{name: app, url: %q, secret: %q}", sink.URL, testDestination),
		fmt.Sprintf("{name: app, url: %q, secret: %q, ordering: resource, on_dead: block}", sink.URL, testDestination), 1)
	p := startRelay(t, cfg, nil)
	for i := range 3 {
		body := simulator.GitHubIssuesPayload(4242, 7, "edited")
		if code, answer := post(t, p.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", fmt.Sprintf("ord-%d", i), body), body); code != http.StatusAccepted {
			t.Fatalf("webhook %d: %d %s", i, code, answer)
		}
	}
	var dsts relay.Page[*relay.Destination]
	apiGet(t, p.url+"/api/v1/destinations", &dsts)
	if len(dsts.Items) != 1 || dsts.Items[0].Ordering != relay.OrderingResource || dsts.Items[0].OnDead != relay.OnDeadBlock {
		t.Fatalf("destinations %+v", dsts.Items)
	}
	id := dsts.Items[0].ID
	var page struct {
		Items []*relay.BlockedKey `json:"items"`
	}
	waitUntil(t, "the key blocked behind its failing head", func() bool {
		apiGet(t, p.url+"/api/v1/destinations/"+id+"/blocked-keys", &page)
		return len(page.Items) == 1
	})
	if k := page.Items[0]; k.Key != "7" || k.Waiting != 2 || k.Attempts < 1 || k.Head.OrderKey != "7" {
		t.Fatalf("blocked key %+v", k)
	}
	// Only the head was ever sent: the others wait behind it.
	for _, d := range sink.all() {
		if d.env["delivery_id"] != "ord-0" {
			t.Fatalf("%v was sent while the head of its key was failing", d.env["delivery_id"])
		}
	}
	out, errOut, err := keysCLI(p.url, testAdminKey, "destinations", "blocked", id)
	if err != nil || !strings.Contains(out, "7") || !strings.Contains(out, page.Items[0].Head.ID) {
		t.Fatalf("relay destinations blocked: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err = keysCLI(p.url, testAdminKey, "destinations", "set-ordering", id, "--ordering", "$.issue.id", "--on-dead", "skip")
	if err != nil || !strings.Contains(out, "by $.issue.id, on dead: skip") {
		t.Fatalf("relay destinations set-ordering: %v\n%s%s", err, out, errOut)
	}
	if code := apiGet(t, p.url+"/api/v1/destinations/dst_missing/blocked-keys", nil); code != http.StatusNotFound {
		t.Fatalf("missing destination: %d", code)
	}
}
