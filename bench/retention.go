package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// runRetention ingests at a fixed rate twice, first keeping everything, then
// with a max_age of a fifth of the run, sampling the database's size as it
// goes: with retention the size levels off once the first events age out,
// and the ack latency shows what pruning costs ingest.
func runRetention(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	maxAge := (o.RateFor / 5).Round(time.Second)
	fmt.Fprintf(out, "## retention: open loop, %d/s for %s, without and with retention.max_age %s (interval 2s)\n",
		o.Rate, o.RateFor, maxAge)
	var p99 [2]time.Duration
	for i, env := range [][]string{
		{"RELAY_RETENTION_MAX_AGE=0"},
		{"RELAY_RETENTION_MAX_AGE=" + maxAge.String(), "RELAY_RETENTION_INTERVAL=2s"},
	} {
		r, sizes, err := retentionRun(ctx, o, payloads, env)
		if err != nil {
			return err
		}
		p99[i] = r.Percentile(99)
		label := "without retention"
		if i == 1 {
			label = "with retention   "
		}
		fmt.Fprintf(out, "%s: %s\n", label, r)
		fmt.Fprintf(out, "%s  database file+WAL MB every %s: %s\n", strings.Repeat(" ", len(label)), o.RateFor/10, strings.Join(sizes, ", "))
	}
	fmt.Fprintf(out, "p99 ack latency with retention / without: %.2f\n\n", float64(p99[1])/float64(p99[0]))
	return nil
}

// retentionRun runs one open loop on a fresh cluster started with env and
// returns its result and the database sizes sampled every tenth of the run.
func retentionRun(ctx context.Context, o Options, payloads []webhook, env []string) (*Result, []string, error) {
	c, err := startCluster(o, env...)
	if err != nil {
		return nil, nil, err
	}
	defer c.close()
	size := func() string {
		all, wal := DirSize(c.dir), walSize(c.dir)
		return fmt.Sprintf("%.0f+%.0f", float64(all-wal)/1e6, float64(wal)/1e6)
	}
	if o.DatabaseURL != "" {
		// PostgreSQL's files are the server's, shared with other schemas:
		// watch relay_database_size_bytes there instead.
		size = func() string { return "n/a" }
	}
	var sizes []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(o.RateFor / 10)
		defer t.Stop()
		for range 10 {
			<-t.C
			sizes = append(sizes, size())
		}
	}()
	l := NewLoader(c.targets(), payloads, fmt.Sprintf("ret-%d-", time.Now().UnixNano()), 256)
	r := l.OpenLoop(ctx, o.Rate, o.RateFor, 256)
	<-done
	return r, sizes, nil
}
