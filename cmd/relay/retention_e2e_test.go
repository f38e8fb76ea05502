package main

import (
	"net/http"
	"testing"

	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// TestRetentionDeletesDeliveredEvents: serve runs retention; once an
// event is delivered and older than max_age it is gone from the API, the
// deletion is counted, and the database size is exported.
func TestRetentionDeletesDeliveredEvents(t *testing.T) {
	testRetentionDeletesDeliveredEvents(t, nil)
}

func TestRetentionDeletesDeliveredEventsPostgres(t *testing.T) {
	testRetentionDeletesDeliveredEvents(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testRetentionDeletesDeliveredEvents(t *testing.T, env map[string]string) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL)+"retention: {max_age: 1s, interval: 1s}\n", env)
	gh := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	code, body := post(t, p.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "retention-1", gh), gh)
	if code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", code, body)
	}
	waitUntil(t, "delivery", func() bool { return len(sink.all()) == 1 })
	waitUntil(t, "the delivered event deleted", func() bool {
		var page struct {
			Items []map[string]any `json:"items"`
		}
		return apiGet(t, p.url+"/api/v1/events", &page) == http.StatusOK && len(page.Items) == 0
	})
	if v := metricValue(t, p.url, `relay_retention_deleted_total{kind="events"}`); v != 1 {
		t.Errorf("relay_retention_deleted_total{kind=\"events\"} = %v, want 1", v)
	}
	if v := metricValue(t, p.url, `relay_database_size_bytes`); v <= 0 {
		t.Errorf("relay_database_size_bytes = %v", v)
	}
}
