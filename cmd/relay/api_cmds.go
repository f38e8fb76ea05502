package main

// The API verbs: relay events|deliveries|destinations <sub-command>. They
// talk to a running Relay through relayhttp.Client. Every helper here is
// prefixed "cli" so this file can grow apart from main.go.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// cliDefaultURL is where the API verbs find Relay unless --url or RELAY_URL
// says otherwise.
const cliDefaultURL = "http://127.0.0.1:8080"

// cmdEvents runs `relay events ls|show|replay`. Help (-h, --help, or `relay
// events help`) is written to stdout and returns nil.
func cmdEvents(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliEventsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cmdDeliveries runs `relay deliveries ls|show|replay`. Help returns nil.
func cmdDeliveries(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliDeliveriesGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cmdDestinations runs `relay destinations
// ls|show|add|rm|enable|disable|replay-dead`. Help returns nil.
func cmdDestinations(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliDestinationsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cliEnv is what a verb runs with.
type cliEnv struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	now            func() time.Time // for relative --since/--until
}

func cliNewEnv(getenv func(string) string, stdout, stderr io.Writer) *cliEnv {
	return &cliEnv{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
}

// cliGroup is a command with sub-commands, e.g. "events".
type cliGroup struct {
	name  string
	about string // one paragraph for the group's help
	verbs []*cliVerb
}

// cliVerb is one sub-command. setup declares its own flags on fs and
// returns the function that runs it, which reads them.
type cliVerb struct {
	name    string
	args    string // positional arguments for the usage line: "ID", or ""
	nargs   int    // how many positional arguments it takes
	summary string // one line, for the group's help
	about   string // the verb's help text
	// urlIsOwn marks a verb whose --url flag is its own (destinations add:
	// the destination's URL); Relay's address is then --relay-url only.
	urlIsOwn bool
	setup    func(fs *flag.FlagSet, env *cliEnv) cliRunFunc
}

// cliRunFunc runs a verb with its positional arguments and a client.
type cliRunFunc func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error

func (g *cliGroup) names() string {
	names := make([]string, len(g.verbs))
	for i, v := range g.verbs {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}

func (g *cliGroup) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: relay %s <sub-command> [flags]\n\n%s\n\nSub-commands:\n", g.name, g.about)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, v := range g.verbs {
		fmt.Fprintf(tw, "  %s\t%s\n", v.name, v.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEvery sub-command takes --url (env RELAY_URL; default %s) and\n"+
		"--api-key (env RELAY_API_KEY). Run 'relay %s <sub-command> --help' for its flags.\n", cliDefaultURL, g.name)
}

// cliRunGroup dispatches args to one of g's verbs: it parses the verb's
// flags (flags and positional arguments may be mixed), answers --help on
// stdout with nil, resolves --url and --api-key and runs the verb.
func cliRunGroup(ctx context.Context, g *cliGroup, args []string, env *cliEnv) error {
	if len(args) == 0 {
		g.usage(env.stderr)
		return fmt.Errorf("%s: missing sub-command: want one of %s", g.name, g.names())
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		g.usage(env.stdout)
		return nil
	}
	var verb *cliVerb
	for _, v := range g.verbs {
		if v.name == args[0] {
			verb = v
		}
	}
	if verb == nil {
		return fmt.Errorf("%s: unknown sub-command %q: want one of %s", g.name, args[0], g.names())
	}
	name := g.name + " " + verb.name

	fs := flag.NewFlagSet("relay "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help is printed below
	var baseURL, apiKey string
	if verb.urlIsOwn {
		fs.StringVar(&baseURL, "relay-url", "", "Relay's base URL (env RELAY_URL; default "+cliDefaultURL+")")
	} else {
		fs.StringVar(&baseURL, "url", "", "Relay's base URL (env RELAY_URL; default "+cliDefaultURL+")")
		fs.StringVar(&baseURL, "relay-url", "", "same as --url")
	}
	fs.StringVar(&apiKey, "api-key", "", "API key (env RELAY_API_KEY)")
	run := verb.setup(fs, env)
	usage := func(w io.Writer) {
		line := "relay " + name + " [flags]"
		if verb.args != "" {
			line = "relay " + name + " " + verb.args + " [flags]"
		}
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", line, verb.about)
		cliPrintFlags(w, fs)
	}

	pos, err := cliParse(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		usage(env.stdout)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see 'relay %s --help')", name, err, name)
	}
	if len(pos) != verb.nargs {
		if verb.nargs == 0 {
			return fmt.Errorf("%s: unexpected argument %q (see 'relay %s --help')", name, pos[0], name)
		}
		return fmt.Errorf("%s: want %d argument (%s), got %d (see 'relay %s --help')", name, verb.nargs, verb.args, len(pos), name)
	}

	if baseURL == "" {
		baseURL = env.getenv("RELAY_URL")
	}
	if baseURL == "" {
		baseURL = cliDefaultURL
	}
	if apiKey == "" {
		apiKey = env.getenv("RELAY_API_KEY")
	}
	if apiKey == "" {
		return fmt.Errorf("%s: no API key: pass --api-key or set RELAY_API_KEY (relay serve prints an admin key when it creates one)", name)
	}
	if err := run(ctx, env, relayhttp.NewClient(baseURL, apiKey), pos); err != nil {
		return cliAPIError(name, err)
	}
	return nil
}

// cliParse parses flags that may come before, between or after positional
// arguments ("show ID --json"), which flag.Parse alone stops at; everything
// after "--" is positional.
func cliParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// cliPrintFlags lists fs's flags GNU-style ("--name value").
func cliPrintFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if _, ok := f.Value.(*cliListValue); ok {
			usage += " (repeatable)"
		}
		if kind != "" {
			kind = " " + kind
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, kind, usage)
	})
	tw.Flush()
}

// cliError is a verb's failure as the user should read it, keeping the
// cause for errors.As.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// cliAPIError words an error of verb name: an API error as its message and
// code (with a hint for the auth ones), anything else wrapped.
func cliAPIError(name string, err error) error {
	var re *relay.Error
	if !errors.As(err, &re) {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%s: %w (is Relay running there? set --url or RELAY_URL)", name, err)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	msg := fmt.Sprintf("%s: %s (%s)", name, re.Message, re.Code)
	switch re.Code {
	case relay.EUNAUTHORIZED:
		msg += "; check --api-key or RELAY_API_KEY"
	case relay.EFORBIDDEN:
		msg += "; this needs an admin API key"
	}
	return &cliError{msg: msg, err: err}
}

// cliTimeValue is a --since/--until flag: an RFC 3339 time, a date
// (2006-01-02, UTC), or a duration meaning that long before now ("2h",
// "30m", "7d").
type cliTimeValue struct {
	t   *time.Time
	now func() time.Time
}

func (v *cliTimeValue) String() string {
	if v.t == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func (v *cliTimeValue) Set(s string) error {
	t, err := cliParseTime(s, v.now())
	if err != nil {
		return err
	}
	*v.t = t
	return nil
}

// cliParseTime reads a --since/--until value relative to now.
func cliParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		if n, nerr := strconv.Atoi(days); nerr == nil {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration before now (2h, 30m, 7d)")
	}
	return now.Add(-d), nil
}

// cliTimeVar declares a time flag on fs.
func cliTimeVar(fs *flag.FlagSet, env *cliEnv, t *time.Time, name, usage string) {
	fs.Var(&cliTimeValue{t: t, now: env.now}, name, usage)
}

// cliListValue is a repeatable string flag; a value may also list several,
// comma-separated.
type cliListValue []string

func (l *cliListValue) String() string { return strings.Join(*l, ",") }

func (l *cliListValue) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// cliPrintJSON prints v as indented JSON: the API's answer as it came.
func cliPrintJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// cliTable returns a tabwriter for a human table; Flush it.
func cliTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// cliRow writes one table row, each cell made safe to print.
func cliRow(tw io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = cliCell(c, 60)
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// cliCell makes text from the server (event types, errors, response bodies)
// safe for one table cell: control characters (tabs, newlines, terminal
// escapes) become spaces, and it is cut to max runes; "" becomes "-".
func cliCell(s string, max int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// cliTime formats a time for a table: UTC, to the second; zero is "-".
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// cliFields prints "Key   value" lines, skipping empty values.
func cliFields(w io.Writer, kv ...string) {
	tw := cliTable(w)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", kv[i], cliCell(kv[i+1], 200))
		}
	}
	tw.Flush()
}

// cliLast summarises a delivery's last attempt: its error, or its HTTP status.
func cliLast(d *relay.Delivery) string {
	switch {
	case d.LastError != "":
		return d.LastError
	case d.LastStatus != 0:
		return "HTTP " + strconv.Itoa(d.LastStatus)
	}
	return ""
}

// cliNext is when a delivery is attempted next; "-" when it is not.
func cliNext(d *relay.Delivery) string {
	if d.Status != relay.DeliveryPending && d.Status != relay.DeliveryRetrying {
		return "-"
	}
	return cliTime(d.NextAttemptAt)
}

func cliPrintDeliveries(w io.Writer, ds []*relay.Delivery) {
	tw := cliTable(w)
	cliRow(tw, "ID", "EVENT", "DESTINATION", "STATUS", "ATTEMPTS", "LAST", "NEXT ATTEMPT", "CREATED")
	for _, d := range ds {
		cliRow(tw, d.ID, d.EventID, d.DestinationID, d.Status, strconv.Itoa(d.Attempts), cliLast(d), cliNext(d), cliTime(d.CreatedAt))
	}
	tw.Flush()
}

func cliPrintAttempts(w io.Writer, as []*relay.Attempt) {
	if len(as) == 0 {
		fmt.Fprintln(w, "No attempts yet.")
		return
	}
	tw := cliTable(w)
	cliRow(tw, "#", "STARTED", "STATUS", "LATENCY", "ERROR", "RESPONSE")
	for _, a := range as {
		status := "-"
		if a.StatusCode != 0 {
			status = strconv.Itoa(a.StatusCode)
		}
		cliRow(tw, strconv.Itoa(a.N), cliTime(a.StartedAt), status,
			time.Duration(a.Latency).Round(time.Millisecond).String(), a.Error, a.ResponseBody)
	}
	tw.Flush()
}

func cliPrintDelivery(w io.Writer, d *relay.Delivery) {
	cliFields(w,
		"ID", d.ID,
		"Event", d.EventID,
		"Destination", d.DestinationID,
		"Status", d.Status,
		"Source", d.Source,
		"Attempts", strconv.Itoa(d.Attempts),
		"Last", cliLast(d),
		"Next attempt", strings.TrimPrefix(cliNext(d), "-"),
		"Created", cliTime(d.CreatedAt),
		"Updated", cliTime(d.UpdatedAt),
	)
	fmt.Fprintln(w, "\nAttempts:")
	cliPrintAttempts(w, d.AttemptLog)
}

func cliPrintDestinations(w io.Writer, ds []*relay.Destination) {
	tw := cliTable(w)
	cliRow(tw, "ID", "NAME", "URL", "STATE", "PROVIDERS", "EVENT TYPES", "ORG", "CONCURRENCY", "TIMEOUT")
	for _, d := range ds {
		cliRow(tw, d.ID, d.Name, d.URL, cliState(d), cliAll(d.Providers), cliAll(d.EventTypes), d.OrgID,
			strconv.Itoa(d.MaxConcurrency), time.Duration(d.Timeout).String())
	}
	tw.Flush()
}

func cliPrintDestination(w io.Writer, d *relay.Destination) {
	cliFields(w,
		"ID", d.ID,
		"Name", d.Name,
		"URL", d.URL,
		"State", cliState(d),
		"Providers", cliAll(d.Providers),
		"Event types", cliAll(d.EventTypes),
		"Org", d.OrgID,
		"Concurrency", strconv.Itoa(d.MaxConcurrency),
		"Timeout", time.Duration(d.Timeout).String(),
		"Ordering", cliOrdering(d),
		"Created", cliTime(d.CreatedAt),
		"Old secret signs until", cliOverlap(d),
		"Secret", d.Secret, // only in the answer to a create
	)
}

// cliOverlap is when a rotation's replaced secret stops signing, or "" when
// it already has.
func cliOverlap(d *relay.Destination) string {
	if d.PreviousSecretUntil.After(time.Now()) {
		return cliTime(d.PreviousSecretUntil)
	}
	return ""
}

func cliState(d *relay.Destination) string {
	switch {
	case !d.Disabled && d.PausedUntil.After(time.Now()):
		return "paused until " + cliTime(d.PausedUntil)
	case !d.Disabled:
		return "enabled"
	case d.DisabledReason != "":
		return "disabled: " + d.DisabledReason
	}
	return "disabled"
}

// cliAll lists a filter; an empty one matches everything.
func cliAll(list []string) string {
	if len(list) == 0 {
		return "all"
	}
	return strings.Join(list, ",")
}

// cliPlural returns "1 delivery" or "2 deliveries".
func cliPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

const cliStatuses = "pending, retrying, succeeded or dead"

// ---- relay events ----

var cliEventsGroup = &cliGroup{
	name:  "events",
	about: "Lists, shows and replays the webhooks Relay received (and backfilled).",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list events, newest first",
			about: "Lists events, newest first, one page at a time (--limit, then --cursor with the\n" +
				"cursor printed under the table). --since and --until take an RFC 3339 time,\n" +
				"a date, or a duration before now (2h, 7d).",
			setup: cliEventsLs,
		},
		{
			name: "show", args: "ID", nargs: 1, summary: "show an event with its deliveries and their attempts",
			about: "Shows one event, its deliveries and every attempt of each; --payload prints the\n" +
				"provider's JSON too, --json the whole API answer.",
			setup: cliEventsShow,
		},
		{
			name: "replay", args: "ID", nargs: 1, summary: "send an event again to its destinations",
			about: "Sends the event again, now, to every destination it went to and to any that\n" +
				"matches it now (envelope source \"replay\"), and lists the deliveries made due.",
			setup: cliEventsReplay,
		},
	},
}

func cliEventsLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var f relay.EventFilter
	fs.StringVar(&f.Provider, "provider", "", "only this provider's events (github, linear, … or a source name)")
	fs.StringVar(&f.EventType, "type", "", "only this event type, or a glob like 'issues.*'")
	fs.StringVar(&f.Status, "status", "", "only events with a delivery in this status: "+cliStatuses)
	cliTimeVar(fs, env, &f.Since, "since", "only events received at or after this `time`")
	cliTimeVar(fs, env, &f.Until, "until", "only events received before this `time`")
	fs.IntVar(&f.Limit, "limit", 0, "events per page, 1..1000 (default 100)")
	fs.StringVar(&f.Cursor, "cursor", "", "the page after this cursor (printed under the previous page)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		page, err := c.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, page)
		}
		if len(page.Items) == 0 {
			fmt.Fprintln(env.stdout, "No events.")
			return nil
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "PROVIDER", "TYPE", "SOURCE", "ORG", "RECEIVED")
		for _, e := range page.Items {
			cliRow(tw, e.ID, e.Provider, e.EventType, e.Source, e.OrgID, cliTime(e.ReceivedAt))
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(env.stdout, "\nMore events: run again with --cursor %s\n", page.Next)
		}
		return nil
	}
}

func cliEventsShow(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	payload := fs.Bool("payload", false, "print the payload too")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		e, err := c.GetEvent(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, e)
		}
		w := env.stdout
		cliFields(w,
			"ID", e.ID,
			"Provider", e.Provider,
			"Type", e.EventType,
			"Delivery ID", e.DeliveryID,
			"Source", e.Source,
			"Org", e.OrgID,
			"Connection", e.ConnectionID,
			"Account", e.AccountID,
			"Resource", e.ResourceID,
			"Received", cliTime(e.ReceivedAt),
			"Payload", cliPlural(len(e.Payload), "byte", "bytes"),
		)
		if *payload {
			var v any
			if json.Unmarshal(e.Payload, &v) == nil {
				fmt.Fprintln(w)
				if err := cliPrintJSON(w, v); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(w, "\nDeliveries (%d):\n", len(e.Deliveries))
		if len(e.Deliveries) == 0 {
			fmt.Fprintln(w, "None: no destination matched it.")
			return nil
		}
		cliPrintDeliveries(w, e.Deliveries)
		for _, d := range e.Deliveries {
			fmt.Fprintf(w, "\nAttempts of %s (to %s):\n", d.ID, d.DestinationID)
			cliPrintAttempts(w, d.AttemptLog)
		}
		return nil
	}
}

func cliEventsReplay(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		ds, err := c.ReplayEvent(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, relay.Page[*relay.Delivery]{Items: ds})
		}
		if len(ds) == 0 {
			fmt.Fprintf(env.stdout, "Event %s matches no destination: nothing to replay.\n", args[0])
			return nil
		}
		fmt.Fprintf(env.stdout, "Replaying event %s: %s due now.\n\n", args[0], cliPlural(len(ds), "delivery", "deliveries"))
		cliPrintDeliveries(env.stdout, ds)
		return nil
	}
}

// ---- relay deliveries ----

var cliDeliveriesGroup = &cliGroup{
	name:  "deliveries",
	about: "Lists, shows and replays deliveries: one event sent to one destination, with\nits attempts.",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list deliveries, newest first",
			about: "Lists deliveries, newest first, one page at a time (--limit, then --cursor).\n" +
				"--since and --until (on the creation time) take an RFC 3339 time, a date, or a\n" +
				"duration before now (2h, 7d).",
			setup: cliDeliveriesLs,
		},
		{
			name: "show", args: "ID", nargs: 1, summary: "show a delivery and its attempts",
			about: "Shows one delivery and every attempt: time, HTTP status, latency, error and the\nstart of the response.",
			setup: cliDeliveriesShow,
		},
		{
			name: "replay", args: "ID", nargs: 1, summary: "send a delivery again now",
			about: "Makes the delivery due again now, whatever its status (a dead one included), with\na fresh retry schedule.",
			setup: cliDeliveriesReplay,
		},
	},
}

func cliDeliveriesLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var f relay.DeliveryFilter
	fs.StringVar(&f.EventID, "event", "", "only deliveries of this event `id`")
	fs.StringVar(&f.DestinationID, "destination", "", "only deliveries to this destination `id`")
	fs.StringVar(&f.Status, "status", "", "only deliveries in this status: "+cliStatuses)
	cliTimeVar(fs, env, &f.Since, "since", "only deliveries created at or after this `time`")
	cliTimeVar(fs, env, &f.Until, "until", "only deliveries created before this `time`")
	fs.IntVar(&f.Limit, "limit", 0, "deliveries per page, 1..1000 (default 100)")
	fs.StringVar(&f.Cursor, "cursor", "", "the page after this cursor (printed under the previous page)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		page, err := c.ListDeliveries(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, page)
		}
		if len(page.Items) == 0 {
			fmt.Fprintln(env.stdout, "No deliveries.")
			return nil
		}
		cliPrintDeliveries(env.stdout, page.Items)
		if page.Next != "" {
			fmt.Fprintf(env.stdout, "\nMore deliveries: run again with --cursor %s\n", page.Next)
		}
		return nil
	}
}

func cliDeliveriesShow(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		d, err := c.GetDelivery(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, d)
		}
		cliPrintDelivery(env.stdout, d)
		return nil
	}
}

func cliDeliveriesReplay(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		d, err := c.ReplayDelivery(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, d)
		}
		fmt.Fprintf(env.stdout, "Delivery %s is due again now (status %s).\n", d.ID, d.Status)
		return nil
	}
}

// ---- relay destinations ----

var cliDestinationsGroup = &cliGroup{
	name: "destinations",
	about: "Manages destinations, the endpoints of your app that Relay delivers events to:\n" +
		"replays their dead deliveries, rotates their signing secrets, sends them test\n" +
		"events and resumes them after a circuit-breaker pause. These need an admin API key.",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list destinations",
			about: "Lists every destination (secrets are never shown after creation).",
			setup: cliDestinationsLs,
		},
		{
			name: "show", args: "ID", nargs: 1, summary: "show a destination",
			about: "Shows one destination (without its secret).",
			setup: cliDestinationsShow,
		},
		{
			name: "add", summary: "create a destination", urlIsOwn: true,
			about: "Creates a destination and prints it with its signing secret (whsec_…), which is\n" +
				"shown only this once. Without --secret Relay generates one.\n\n" +
				"Here --url is the destination's URL; Relay's own address is --relay-url\n" +
				"(or RELAY_URL).",
			setup: cliDestinationsAdd,
		},
		{
			name: "rm", args: "ID", nargs: 1, summary: "delete a destination",
			about: "Deletes the destination; Relay stops delivering to it.",
			setup: cliDestinationsRm,
		},
		{
			name: "enable", args: "ID", nargs: 1, summary: "enable a destination again",
			about: "Enables the destination again; the deliveries that waited while it was disabled\ngo out now.",
			setup: func(fs *flag.FlagSet, env *cliEnv) cliRunFunc { return cliDestinationsSetDisabled(fs, false) },
		},
		{
			name: "disable", args: "ID", nargs: 1, summary: "pause deliveries to a destination",
			about: "Disables the destination: events are still routed to it, and their deliveries\nwait until it is enabled again.",
			setup: func(fs *flag.FlagSet, env *cliEnv) cliRunFunc { return cliDestinationsSetDisabled(fs, true) },
		},
		{
			name: "replay-dead", args: "ID", nargs: 1, summary: "send a destination's dead deliveries again",
			about: "Makes every dead delivery of the destination (created in [--since, --until),\n" +
				"both optional) due again now. --since and --until take an RFC 3339 time, a\n" +
				"date, or a duration before now (2h, 7d).",
			setup: cliDestinationsReplayDead,
		},
		{
			name: "resume", args: "ID", nargs: 1, summary: "end a destination's circuit-breaker pause now",
			about: "A destination that keeps failing is paused by its circuit breaker ('ls' shows\n" +
				"until when). This ends the pause now, on every replica, and makes its retrying\n" +
				"deliveries due at once.",
			setup: cliDestinationsResume,
		},
		{
			name: "rotate-secret", args: "ID", nargs: 1, summary: "give a destination a new signing secret",
			about: "Gives the destination a new signing secret (whsec_…), printed only this once.\n" +
				"For the overlap (--overlap, default Relay's delivery.rotation_overlap, 24h)\n" +
				"every delivery is signed with both the new and the old secret, so your app can\n" +
				"switch to the new one at any time in between; then only the new one signs.",
			setup: cliDestinationsRotateSecret,
		},
		{
			name: "test", args: "ID", nargs: 1, summary: "send a test event to a destination",
			about: "Sends a signed relay.test event to the destination through the normal pipeline\n" +
				"(stored, signed, retried like any event) and prints the outcome of its first\n" +
				"attempt.",
			setup: cliDestinationsTest,
		},
		{
			name: "set-ordering", args: "ID", nargs: 1, summary: "deliver a destination's events in order per key",
			about: "Sets the destination's ordering: none, or the key whose deliveries are sent one at\n" +
				"a time in arrival order (resource, account, connection, or a JSON path such as\n" +
				"$.issue.id), and --on-dead: skip (a dead head lets its key move on) or block\n" +
				"(the key waits until the dead delivery is replayed and succeeds). The key of a\n" +
				"delivery is fixed when it is created.",
			setup: cliDestinationsSetOrdering,
		},
		{
			name: "blocked", args: "ID", nargs: 1, summary: "list keys held back by a failing delivery",
			about: "Lists the destination's ordered keys whose head delivery keeps failing (or is\n" +
				"dead, with --on-dead block), with how many deliveries wait behind it. Replay or\n" +
				"fix the head to let the key move on.",
			setup: cliDestinationsBlocked,
		},
	},
}

func cliDestinationsTest(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		res, err := c.TestDestination(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, res)
		}
		d := res.Delivery
		if d.Attempts == 0 {
			fmt.Fprintf(env.stdout, "Sent test event %s; its delivery %s is %s and not attempted yet ('relay deliveries show %s').\n",
				res.EventID, d.ID, d.Status, d.ID)
			return nil
		}
		fmt.Fprintf(env.stdout, "Sent test event %s: delivery %s %s (%s).\n", res.EventID, d.ID, d.Status, cliLast(d))
		cliPrintAttempts(env.stdout, d.AttemptLog)
		return nil
	}
}

func cliDestinationsRotateSecret(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	overlap := fs.Duration("overlap", -1, "how long the old secret keeps signing too, 0s..720h (default Relay's, 24h)")
	secret := fs.String("secret", "", "the new secret whsec_…; default: Relay generates one")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		var o *time.Duration
		if *overlap >= 0 {
			o = overlap
		}
		d, err := c.RotateSecret(ctx, args[0], o, *secret)
		if err != nil {
			return err
		}
		note := "The new signing secret is shown only now: give it to your app, which verifies\n" +
			"Relay's webhook-signature with it (Standard Webhooks). It cannot be shown again."
		if *asJSON {
			fmt.Fprintln(env.stderr, note)
			return cliPrintJSON(env.stdout, d)
		}
		fmt.Fprintf(env.stdout, "Rotated the signing secret of destination %s (%s).\n\n", d.ID, d.Name)
		cliFields(env.stdout, "Secret", d.Secret, "Old secret signs until", cliTime(d.PreviousSecretUntil))
		fmt.Fprintf(env.stdout, "\nUntil then every delivery is signed with both secrets; switch your app to the\nnew one before. %s\n", note)
		return nil
	}
}

func cliDestinationsResume(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		n, err := c.ResumeDestination(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, map[string]int{"made_due": n})
		}
		fmt.Fprintf(env.stdout, "Destination %s resumed; %s due now.\n", args[0], cliPlural(n, "retrying delivery", "retrying deliveries"))
		return nil
	}
}

func cliDestinationsLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		ds, err := c.ListDestinations(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, relay.Page[*relay.Destination]{Items: ds})
		}
		if len(ds) == 0 {
			fmt.Fprintln(env.stdout, "No destinations. Add one with 'relay destinations add --name NAME --url URL'.")
			return nil
		}
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
		cliPrintDestinations(env.stdout, ds)
		return nil
	}
}

func cliDestinationsShow(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		d, err := c.GetDestination(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, d)
		}
		cliPrintDestination(env.stdout, d)
		return nil
	}
}

func cliDestinationsAdd(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var d relay.Destination
	var providers, eventTypes cliListValue
	var timeout time.Duration
	fs.StringVar(&d.Name, "name", "", "unique name (required)")
	fs.StringVar(&d.URL, "url", "", "the destination's http(s) URL (required)")
	fs.StringVar(&d.Secret, "secret", "", "signing secret whsec_…; default: Relay generates one")
	fs.Var(&providers, "provider", "only events of this `provider`; default all")
	fs.Var(&eventTypes, "event-type", "only events of this type or `glob` ('issues.*'); default all")
	fs.StringVar(&d.OrgID, "org", "", "only events of this org `id`; default all orgs")
	fs.IntVar(&d.MaxConcurrency, "max-concurrency", 0, "requests in flight at once, 1..1000 (default Relay's, 32)")
	fs.DurationVar(&timeout, "timeout", 0, "per-request timeout, 100ms..5m (default Relay's, 15s)")
	fs.StringVar(&d.Ordering, "ordering", "", "deliver in order per `key`: none, resource, account, connection or $.json.path (default none)")
	fs.StringVar(&d.OnDead, "on-dead", "", "when an ordered key's head dies: skip or block (default skip)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		if d.Name == "" || d.URL == "" {
			return errors.New("--name and --url are required")
		}
		d.Providers, d.EventTypes, d.Timeout = providers, eventTypes, relay.Duration(timeout)
		created, err := c.CreateDestination(ctx, &d)
		if err != nil {
			return err
		}
		note := "The signing secret is shown only now: store it with your app, which verifies\n" +
			"Relay's webhook-signature with it (Standard Webhooks). It cannot be shown again."
		if *asJSON {
			fmt.Fprintln(env.stderr, note)
			return cliPrintJSON(env.stdout, created)
		}
		fmt.Fprintf(env.stdout, "Created destination %s.\n\n", created.ID)
		cliPrintDestination(env.stdout, created)
		fmt.Fprintf(env.stdout, "\n%s\n", note)
		return nil
	}
}

func cliDestinationsRm(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		if err := c.DeleteDestination(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Deleted destination %s.\n", args[0])
		return nil
	}
}

func cliDestinationsSetDisabled(fs *flag.FlagSet, disabled bool) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		d, err := c.UpdateDestination(ctx, args[0], map[string]any{"disabled": disabled})
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, d)
		}
		if disabled {
			fmt.Fprintf(env.stdout, "Destination %s (%s) is disabled; its deliveries wait until it is enabled again.\n", d.ID, d.Name)
		} else {
			fmt.Fprintf(env.stdout, "Destination %s (%s) is enabled; its waiting deliveries go out now.\n", d.ID, d.Name)
		}
		return nil
	}
}

func cliDestinationsReplayDead(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var since, until time.Time
	cliTimeVar(fs, env, &since, "since", "only dead deliveries created at or after this `time`")
	cliTimeVar(fs, env, &until, "until", "only dead deliveries created before this `time`")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		n, err := c.ReplayDead(ctx, args[0], since, until)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, map[string]int{"replayed": n})
		}
		fmt.Fprintf(env.stdout, "Replaying %s of destination %s.\n", cliPlural(n, "dead delivery", "dead deliveries"), args[0])
		return nil
	}
}
