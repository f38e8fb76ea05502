package main

// The backfill verbs: relay backfill start|ls|status|cancel, over the
// connection's backfill endpoints.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// cmdBackfill runs `relay backfill start|ls|status|cancel`. Help returns nil.
func cmdBackfill(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliBackfillGroup, args, cliNewEnv(getenv, stdout, stderr))
}

var cliBackfillGroup = &cliGroup{
	name: "backfill",
	about: "Imports a connection's provider history (the last N days) as events, delivered like\n" +
		"live webhooks with source \"backfill\". Entity types: github issues, pull_requests,\n" +
		"releases; linear issues, comments; sentry issues; vercel deployments.",
	verbs: []*cliVerb{
		{
			name: "start", args: "CONNECTION", nargs: 1, summary: "start a backfill",
			about: "Starts a backfill of the connection. While one with the same parameters is\n" +
				"running, prints that one instead of starting another.",
			setup: cliBackfillStart,
		},
		{
			name: "ls", args: "CONNECTION", nargs: 1, summary: "list a connection's backfills",
			about: "Lists the connection's backfills, newest first.",
			setup: cliBackfillLs,
		},
		{
			name: "status", args: "CONNECTION BACKFILL", nargs: 2, summary: "show a backfill's progress",
			about: "Shows a backfill's progress per (resource, entity type): pages, items, cursor,\n" +
				"rate-limit waits and errors.",
			setup: cliBackfillStatus,
		},
		{
			name: "cancel", args: "CONNECTION BACKFILL", nargs: 2, summary: "cancel a backfill",
			about: "Cancels a backfill: no page is committed after it, and its tasks stop before\n" +
				"fetching their next page. Events already imported stay.",
			setup: cliBackfillCancel,
		},
	},
}

func cliBackfillStart(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	days := fs.Int("days", 0, "how many `days` back to import, 1-365 (default: the server's, 30)")
	types := fs.String("types", "", "comma-separated entity `types` (default: all the provider has)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		var et []string
		for _, t := range strings.Split(*types, ",") {
			if t = strings.TrimSpace(t); t != "" {
				et = append(et, t)
			}
		}
		b, created, err := c.StartBackfill(ctx, args[0], *days, et)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, b)
		}
		if created {
			fmt.Fprintf(env.stdout, "Backfill %s started: %d days of %s (%d tasks).\n", b.ID, b.DepthDays,
				strings.Join(b.EntityTypes, ", "), len(b.Tasks))
		} else {
			fmt.Fprintf(env.stdout, "Backfill %s with these parameters is already %s.\n", b.ID, b.Status)
		}
		fmt.Fprintf(env.stdout, "Follow it with 'relay backfill status %s %s'.\n", b.ConnectionID, b.ID)
		return nil
	}
}

func cliBackfillLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		list, err := c.ListBackfills(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, relay.Page[*relay.Backfill]{Items: list})
		}
		if len(list) == 0 {
			fmt.Fprintf(env.stdout, "No backfills. Start one with 'relay backfill start %s'.\n", args[0])
			return nil
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "STATUS", "DAYS", "TYPES", "PAGES", "ITEMS", "FAILED", "CREATED")
		for _, b := range list {
			cliRow(tw, b.ID, b.Status, strconv.Itoa(b.DepthDays), strings.Join(b.EntityTypes, ","), strconv.Itoa(b.Pages),
				strconv.Itoa(b.Items), strconv.Itoa(b.Failed), cliTime(b.CreatedAt))
		}
		return tw.Flush()
	}
}

func cliBackfillStatus(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		b, err := c.GetBackfill(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, b)
		}
		return cliPrintBackfill(env.stdout, b)
	}
}

func cliBackfillCancel(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		b, err := c.CancelBackfill(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, b)
		}
		fmt.Fprintf(env.stdout, "Backfill %s is %s.\n", b.ID, b.Status)
		return nil
	}
}

func cliPrintBackfill(w io.Writer, b *relay.Backfill) error {
	fmt.Fprintf(w, "Backfill %s of connection %s (%s, org %s)\n", b.ID, b.ConnectionID, b.Provider, b.OrgID)
	fmt.Fprintf(w, "Status:   %s", b.Status)
	if b.Reason != "" {
		fmt.Fprintf(w, " (%s)", b.Reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Window:   %d days, items updated since %s\n", b.DepthDays, cliTime(b.Since))
	fmt.Fprintf(w, "Progress: %d pages, %d items, %d failed tasks\n\n", b.Pages, b.Items, b.Failed)
	tw := cliTable(w)
	cliRow(tw, "RESOURCE", "ENTITY", "STATUS", "PAGES", "ITEMS", "WAITS", "ERRORS", "LAST ERROR")
	for _, t := range b.Tasks {
		name := t.ResourceName
		if name == "" {
			name = t.ResourceID
		}
		cliRow(tw, cliCell(name, 40), t.EntityType, t.Status, strconv.Itoa(t.Pages), strconv.Itoa(t.Items),
			strconv.Itoa(t.RateLimitWaits), strconv.Itoa(t.Errors), cliCell(t.LastError, 60))
	}
	return tw.Flush()
}
