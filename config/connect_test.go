package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

func TestAllowedReturnOrigins(t *testing.T) {
	c, err := config.Load(writeFile(t, "connect:\n  allowed_return_origins: [\"https://app.example\", \"http://localhost:3000/\"]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://app.example", "http://localhost:3000/"}; !reflect.DeepEqual(c.Connect.AllowedReturnOrigins, want) {
		t.Fatalf("from the file: %v, want %v", c.Connect.AllowedReturnOrigins, want)
	}
	c, err = config.Load("", env(map[string]string{"RELAY_CONNECT_ALLOWED_RETURN_ORIGINS": "https://a.example, https://b.example:8443"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a.example", "https://b.example:8443"}; !reflect.DeepEqual(c.Connect.AllowedReturnOrigins, want) {
		t.Fatalf("from the environment: %v, want %v", c.Connect.AllowedReturnOrigins, want)
	}
	c, err = config.Load("", env(nil))
	if err != nil || len(c.Connect.AllowedReturnOrigins) != 0 {
		t.Fatalf("default: %v %v (want none: the public URL's origin is implied)", c.Connect.AllowedReturnOrigins, err)
	}

	for _, bad := range []string{"app.example", "ftp://app.example", "https://app.example/path", "https://app.example?x=1",
		"https://user@app.example", "https://"} {
		_, err := config.Load("", env(map[string]string{"RELAY_CONNECT_ALLOWED_RETURN_ORIGINS": bad}))
		if err == nil || !strings.Contains(err.Error(), "connect.allowed_return_origins[0]") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
