package riverjobs

import (
	"log/slog"
	"testing"
	"time"
)

// TestWorkConfigPrunesFinishedJobs: the working client tells River's
// cleaner how long to keep finished jobs, rather than relying on River's
// defaults changing under us.
func TestWorkConfigPrunesFinishedJobs(t *testing.T) {
	c := workConfig(Handlers{}, 2, time.Minute, slog.Default())
	if c.CompletedJobRetentionPeriod != 24*time.Hour || c.CancelledJobRetentionPeriod != 7*24*time.Hour ||
		c.DiscardedJobRetentionPeriod != 7*24*time.Hour {
		t.Fatalf("retention: completed %v, cancelled %v, discarded %v", c.CompletedJobRetentionPeriod,
			c.CancelledJobRetentionPeriod, c.DiscardedJobRetentionPeriod)
	}
}
