package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/relayhq/relay/metrics"
)

// deployDir holds the deployment recipes, relative to this package.
var deployDir = filepath.Join("..", "..", "deploy")

// Every YAML file under deploy/ parses.
func TestDeployYAMLParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		n++
		var v any
		if err := yaml.Unmarshal(mustRead(t, path), &v); err != nil {
			t.Errorf("%s: %v", path, err)
		} else if v == nil {
			t.Errorf("%s is empty", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("found %d YAML files under %s; want at least the compose file and the alert rules", n, deployDir)
	}
}

var (
	metricNameRE = regexp.MustCompile(`\brelay_[a-z0-9_]+`)
	fqNameRE     = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// relayMetricNames is every metric name metrics.New registers for Relay's own
// collectors, with the series names a histogram adds.
func relayMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	names := map[string]bool{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Type().Field(i).Name == "Registry" {
			continue
		}
		// Describe, not Gather: a vector with no labels used yet gathers
		// nothing but still describes its name.
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			match := fqNameRE.FindStringSubmatch(d.String())
			if match == nil {
				t.Fatalf("no name in %s", d)
			}
			names[match[1]] = true
			if _, ok := c.(prometheus.Histogram); ok {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[match[1]+s] = true
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("metrics.New describes no metric")
	}
	return names
}

// alertRules is the alert rules file's shape, as far as the test reads it.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// The example alert rules name only metrics Relay exports, and cover what
// an operator must hear about.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	var rules alertRules
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(deployDir, "prometheus", "alerts.yaml")), &rules); err != nil {
		t.Fatal(err)
	}
	exported := relayMetricNames(t)
	used := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("group %s: a rule without alert name or expr: %+v", g.Name, r)
			}
			for _, name := range metricNameRE.FindAllString(r.Expr, -1) {
				used[name] = true
				if !exported[name] {
					t.Errorf("alert %s uses %s, which Relay does not export", r.Alert, name)
				}
			}
		}
	}
	for _, want := range []string{"relay_deliveries_dead_total", "relay_destination_pauses_total", "relay_delivery_queue_depth", "relay_ingest_requests_total"} {
		if !used[want] {
			t.Errorf("no alert uses %s", want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
