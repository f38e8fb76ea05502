// Command relay is the Relay integration gateway: `relay serve` runs it,
// the other sub-commands manage it and talk to its API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := checkEnv(os.Args, os.Environ())
	if err == nil {
		err = run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
	}
}

const usage = `Relay is a self-hostable integration gateway: verified webhook ingest,
durable delivery with retries and replay.

Usage:
  relay <command> [flags]

Server:
  serve         run Relay (HTTP ingest, API, delivery)
  migrate       apply database migrations (River's included) and exit
  backup FILE   copy the SQLite database consistently, also while serve runs
  keygen        print a new random secret (webhook signing secret, encryption key or API key)
  keys rotate   re-encrypt every stored token under the first of encryption.keys
  webhooks upgrade  give each registered provider webhook its own secret
  version       print the version, VCS revision and build details
  healthcheck   exit 0 when the Relay at RELAY_ADDR (or --url) is ready, 1 otherwise
  bench         benchmark this binary: throughput, latency, backlog drain, replica kill
  demo          try Relay in one minute: simulated providers, connected and sending webhooks
  sink          run a local destination that verifies and prints deliveries (for trying Relay)

API (talks to a running Relay; --url and --api-key, or RELAY_URL and RELAY_API_KEY):
  events        list, show and replay events
  deliveries    list, show and replay deliveries
  destinations  list, add, remove, enable, disable destinations; replay dead deliveries
  orgs          list and create orgs and their org-scoped API keys
  keys          list, revoke and add API keys: ls, revoke KEY_ID, add
  connections   connect, list, show, get a token for, and tear down provider connections;
                session ORG: a connect page for the org's customer
  connect       start connecting an org to a provider: prints the URL to open in a browser
  backfill      import a connection's provider history: start, ls, status, cancel

Run 'relay <command> --help' for a command's flags.
`

// checkEnv refuses to start a command that loads the configuration (serve,
// migrate, keys rotate) when the environment holds a RELAY_ variable Relay
// does not read: most likely a misspelled key, which would otherwise be
// ignored. It is apart from run because run sees the environment only
// through getenv, which cannot list it.
func checkEnv(args, environ []string) error {
	if len(args) < 2 {
		return nil
	}
	switch {
	case args[1] == "serve", args[1] == "migrate", args[1] == "backup", args[1] == "keys" && len(args) > 2 && args[2] == "rotate":
		return config.CheckEnv(environ)
	}
	return nil
}

// run is the whole program, with its environment passed in so tests can
// call it like main.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, getenv, stdout, stderr)
	case "keygen":
		return cmdKeygen(rest, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, getenv, stdout, stderr)
	case "webhooks":
		return cmdWebhooks(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, getenv, stdout, stderr)
	case "sink":
		return cmdSink(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine(buildInfo()))
		return nil
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "events":
		return cmdEvents(ctx, rest, getenv, stdout, stderr)
	case "deliveries":
		return cmdDeliveries(ctx, rest, getenv, stdout, stderr)
	case "orgs":
		return cmdOrgs(ctx, rest, getenv, stdout, stderr)
	case "connections":
		return cmdConnections(ctx, rest, getenv, stdout, stderr)
	case "connect":
		return cmdConnect(ctx, rest, getenv, stdout, stderr)
	case "backfill", "backfills":
		return cmdBackfill(ctx, rest, getenv, stdout, stderr)
	case "destinations":
		return cmdDestinations(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// cmdKeygen prints a new secret.
func cmdKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "webhook-secret", "what to generate: webhook-secret (whsec_…, for destinations and standard-webhooks sources), encryption-key (64 hex characters) or api-key (rk_…, for admin_api_key)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: relay keygen [--kind webhook-secret|encryption-key|api-key]\n\nPrints a new random secret on standard output.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch strings.ToLower(*kind) {
	case "webhook-secret", "whsec":
		fmt.Fprintln(stdout, relay.NewSecret())
	case "encryption-key", "hex":
		fmt.Fprintln(stdout, strings.TrimPrefix(relay.NewAPIKeySecret(), "rk_"))
	case "api-key", "rk":
		fmt.Fprintln(stdout, relay.NewAPIKeySecret())
	default:
		return fmt.Errorf("keygen: --kind must be webhook-secret, encryption-key or api-key, not %q", *kind)
	}
	return nil
}
