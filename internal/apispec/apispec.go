// Package apispec holds Relay's OpenAPI document to what the server does:
// it loads and validates the document, lists its operations (to compare
// with the routes the server registers), and checks real answers against
// it. Tests use it; the relay binary does not.
package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/relayhq/relay"
)

// Load parses relay.OpenAPI and validates it as an OpenAPI 3.1 document
// (structure, references, schemas and examples). Its error says what is
// wrong.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(relay.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi.yaml: want OpenAPI 3.1, the document says %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return doc, nil
}

// Operations lists the document's operations as Go ServeMux patterns
// ("GET /api/v1/events/{id}"), sorted.
func Operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// CheckEnvelope returns what is wrong with a body Relay posted to a
// destination, judged by the document's outbound event webhook (the
// Envelope schema), or nil.
func CheckEnvelope(doc *openapi3.T, body []byte) error {
	ref := doc.Components.Schemas["Envelope"]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi.yaml has no Envelope schema")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\nSchema:")
		return errors.New(strings.ReplaceAll(msg, "\n", " | "))
	}
	return nil
}

// Validator checks answers of Relay servers against the document. Only
// requests to the hosts it was told about are checked (a test's Relay also
// talks to provider simulators and sinks through the same transport).
type Validator struct {
	router routers.Router

	mu         sync.Mutex
	hosts      map[string]bool
	violations map[string][]string // by host
}

// NewValidator returns a validator of the document (which Load checked).
func NewValidator(doc *openapi3.T) (*Validator, error) {
	// The OAuth callback's error pages are HTML: checked as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	// Answers come from servers on any port: match on paths alone.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	return &Validator{router: router, hosts: map[string]bool{}, violations: map[string][]string{}}, nil
}

// Watch makes the validator check the answers of the Relay at baseURL.
func (v *Validator) Watch(baseURL string) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return
	}
	v.mu.Lock()
	v.hosts[u.Host] = true
	v.mu.Unlock()
}

// Violations returns, and forgets, what the Relay at baseURL answered that
// the document does not allow.
func (v *Validator) Violations(baseURL string) []string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.violations[u.Host]
	delete(v.violations, u.Host)
	delete(v.hosts, u.Host)
	return out
}

// Transport returns a RoundTripper that sends with next and checks every
// answer of a watched host against the document.
func (v *Validator) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper{v: v, next: next}
}

type roundTripper struct {
	v    *Validator
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	rt.v.mu.Lock()
	watched := rt.v.hosts[req.URL.Host]
	rt.v.mu.Unlock()
	if !watched {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil // the caller sees the same failure reading it
	}
	if msg := rt.v.check(req, resp, body); msg != "" {
		rt.v.mu.Lock()
		rt.v.violations[req.URL.Host] = append(rt.v.violations[req.URL.Host], msg)
		rt.v.mu.Unlock()
	}
	return resp, nil
}

// check returns what is wrong with an answer, or "".
func (v *Validator) check(req *http.Request, resp *http.Response, body []byte) string {
	what := req.Method + " " + req.URL.Path + " → " + resp.Status
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return what + ": the route is not in openapi.yaml"
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: resp.StatusCode,
		Header: resp.Header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status is a violation
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		// The field and the rule; not the schema and value dumped after them.
		msg, _, _ := strings.Cut(err.Error(), "\nSchema:")
		return what + ": " + strings.ReplaceAll(msg, "\n", " | ")
	}
	return ""
}
