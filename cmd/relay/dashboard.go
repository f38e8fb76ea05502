package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/dashboard"
)

// newDashboard builds the web dashboard over the store and the running
// services; its handler serves the pages and hands every other path to the
// API server.
func newDashboard(cfg *config.Config, store Store, svc *services, srcs []relay.Provider, now func() time.Time,
	logger *slog.Logger) (*dashboard.Dashboard, error) {
	names := make([]string, len(srcs))
	for i, p := range srcs {
		names[i] = p.Name()
	}
	return dashboard.New(dashboard.Deps{
		Store: store, Delivery: svc.engine, Conns: store, ConnSvc: svc.conns, Backfills: store, BackfillSvc: svc.backfills,
		Resolutions: store, Metrics: svc.metrics, Providers: names,
	}, dashboard.Config{SecureCookies: strings.HasPrefix(cfg.BaseURL(), "https://"), PublicURL: cfg.BaseURL(),
		RotationOverlap: time.Duration(cfg.Delivery.RotationOverlap)}, logger.With("component", "dashboard"), now)
}
