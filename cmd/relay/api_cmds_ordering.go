package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// cliOrdering describes a destination's ordering in one line.
func cliOrdering(d *relay.Destination) string {
	if d.Ordering == "" || d.Ordering == relay.OrderingNone {
		return "none"
	}
	return fmt.Sprintf("by %s, on dead: %s", d.Ordering, d.OnDead)
}

func cliDestinationsSetOrdering(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	ordering := fs.String("ordering", "", "none, resource, account, connection or a JSON path like $.issue.id")
	onDead := fs.String("on-dead", "", "skip or block (unchanged when absent)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		patch := map[string]any{}
		if *ordering != "" {
			patch["ordering"] = *ordering
		}
		if *onDead != "" {
			patch["on_dead"] = *onDead
		}
		if len(patch) == 0 {
			return errors.New("give --ordering, --on-dead or both")
		}
		d, err := c.UpdateDestination(ctx, args[0], patch)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, d)
		}
		fmt.Fprintf(env.stdout, "Destination %s (%s) ordering: %s.\n", d.ID, d.Name, cliOrdering(d))
		return nil
	}
}

func cliDestinationsBlocked(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	limit := fs.Int("limit", 0, "at most this many keys, 1..1000 (default 100)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		keys, err := c.BlockedKeys(ctx, args[0], *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, map[string]any{"items": keys})
		}
		if len(keys) == 0 {
			fmt.Fprintln(env.stdout, "No blocked keys.")
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tHEAD DELIVERY\tSTATUS\tATTEMPTS\tWAITING\tBLOCKED FOR")
		now := time.Now()
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", k.Key, k.Head.ID, k.Head.Status, k.Attempts, k.Waiting,
				now.Sub(k.Since).Truncate(time.Second))
		}
		return tw.Flush()
	}
}
