package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// OtherEnv are the RELAY_ variables Relay reads that are not config keys:
// the config file's path, the CLI's Relay URL and API key, and the
// PostgreSQL URL of the tests.
var OtherEnv = []string{"RELAY_CONFIG", "RELAY_URL", "RELAY_API_KEY", "RELAY_TEST_DATABASE_URL"}

// CheckEnv returns an error naming every RELAY_ variable of environ (as
// os.Environ gives it, "NAME=value") that Relay does not read, each with the
// closest variable it does read: a misspelled variable would otherwise be
// ignored without a word. Empty variables count as unset and pass, as in
// Load. Errors are plain, one per variable, starting "config: "; they never
// contain a value.
func CheckEnv(environ []string) error {
	var errs []error
	var known []string // built on the first unknown variable
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || value == "" || knownEnv(name) {
			continue
		}
		if known == nil {
			// Suggest what the server reads: a typo at its start is
			// rarely meant for the CLI's or the tests' variables.
			known = append(envNames(reflect.TypeOf(Config{}), EnvPrefix), "RELAY_CONFIG")
		}
		errs = append(errs, fmt.Errorf("config: %s: unknown environment variable; did you mean %s? (Relay reads every %s_ variable: unset any meant for another program)",
			name, closestEnv(name, known), EnvPrefix))
	}
	return errors.Join(errs...)
}

// knownEnv reports whether Relay reads the variable name.
func knownEnv(name string) bool {
	return slices.Contains(OtherEnv, name) ||
		matchEnv(reflect.TypeOf(Config{}), strings.TrimPrefix(name, EnvPrefix+"_"))
}

// matchEnv reports whether rest (a variable's name after "RELAY_" and the
// path so far) names a key of the struct type t. List indices are any
// number; an indexed list of values (RELAY_ENCRYPTION_KEYS_0) matches too,
// since Load explains what is wrong with it.
func matchEnv(t reflect.Type, rest string) bool {
	for i := 0; i < t.NumField(); i++ {
		key := strings.ToUpper(yamlKey(t.Field(i)))
		if key == "" || !strings.HasPrefix(rest, key) {
			continue
		}
		ft, after := t.Field(i).Type, rest[len(key):]
		switch {
		case isLeaf(ft):
			if after == "" {
				return true
			}
			if ft.Kind() == reflect.Slice {
				if idx, ok := strings.CutPrefix(after, "_"); ok && isDigits(idx) {
					return true
				}
			}
		case ft.Kind() == reflect.Struct:
			if sub, ok := strings.CutPrefix(after, "_"); ok && matchEnv(ft, sub) {
				return true
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			idx, sub, ok := strings.Cut(strings.TrimPrefix(after, "_"), "_")
			if strings.HasPrefix(after, "_") && ok && isDigits(idx) && matchEnv(ft.Elem(), sub) {
				return true
			}
		}
	}
	return false
}

// envNames lists the variables of the struct type t under prefix, with "#"
// for list indices.
func envNames(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		name, ft := prefix+"_"+strings.ToUpper(key), t.Field(i).Type
		switch {
		case isLeaf(ft):
			out = append(out, name)
		case ft.Kind() == reflect.Struct:
			out = append(out, envNames(ft, name)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, envNames(ft.Elem(), name+"_#")...)
		}
	}
	return out
}

// closestEnv returns the name in known nearest to name by edit distance,
// its "#" indices replaced by the numbers name has, in order.
func closestEnv(name string, known []string) string {
	var nums []string
	for _, part := range strings.Split(name, "_") {
		if isDigits(part) {
			nums = append(nums, part)
		}
	}
	best, bestDist := "", -1
	for _, k := range known {
		parts := strings.Split(k, "_")
		n := 0
		for i, p := range parts {
			if p == "#" {
				parts[i] = "0"
				if n < len(nums) {
					parts[i] = nums[n]
				}
				n++
			}
		}
		cand := strings.Join(parts, "_")
		if d := editDistance(name, cand); bestDist < 0 || d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best
}

// closestKey returns the key in keys nearest to key, "" when none is near
// enough to be a likely misspelling.
func closestKey(key string, keys []string) string {
	best, bestDist := "", -1
	for _, k := range keys {
		if d := editDistance(key, k); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist < 0 || bestDist > max(2, len(key)*2/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (keys and variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
}
