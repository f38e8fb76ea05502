package main

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/relayhq/relay/internal/apispec"
)

// apiSpec checks every answer a test's Relay gives against openapi.yaml:
// startRelay watches each server it starts and fails the test on the first
// answer the document does not allow (a field, a status or a route it does
// not describe).
var apiSpec *apispec.Validator

// apiDoc is the loaded document, for the envelopes collectors receive.
var apiDoc *openapi3.T

func TestMain(m *testing.M) {
	doc, err := apispec.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	apiDoc = doc
	if apiSpec, err = apispec.NewValidator(doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The API client, the tests' helpers and http.Get all send through the
	// default transport (a client with no Transport of its own uses it).
	http.DefaultTransport = apiSpec.Transport(http.DefaultTransport)
	os.Exit(m.Run())
}

// checkAPISpec makes t fail on any answer of the Relay at url that
// openapi.yaml does not allow, when t ends.
func checkAPISpec(t *testing.T, url string) {
	apiSpec.Watch(url)
	t.Cleanup(func() {
		for _, v := range apiSpec.Violations(url) {
			t.Errorf("answer not allowed by openapi.yaml: %s", v)
		}
	})
}
