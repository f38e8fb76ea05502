package http

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/relayhq/relay/internal/apispec"
	"github.com/relayhq/relay/metrics"
)

// routeRecorder collects the patterns routes registers.
type routeRecorder struct{ patterns []string }

func (r *routeRecorder) Handle(pattern string, _ http.Handler) {
	r.patterns = append(r.patterns, pattern)
}

// Every route the server registers is in openapi.yaml, and the document
// names no route the server does not have.
func TestRoutesMatchTheOpenAPIDocument(t *testing.T) {
	doc, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	documented := apispec.Operations(doc)
	var rec routeRecorder
	(&Server{metrics: metrics.New()}).routes(&rec)
	var served []string
	for _, p := range rec.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			// A pattern without a method is a fallback (the JSON 404 for
			// unknown /api/ paths), not a route of the API.
			continue
		}
		served = append(served, method+" "+path)
	}
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is served but not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.yaml describes %q, which the server does not serve", d)
		}
	}
}
