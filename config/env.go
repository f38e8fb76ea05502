package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the environment variable of every key.
const EnvPrefix = "RELAY"

// maxIndexGap is how far past the end of a list the environment overlay
// looks for a mistyped index (RELAY_DESTINATIONS_3_URL on an empty list),
// which it reports rather than silently ignores.
const maxIndexGap = 8

var durationType = reflect.TypeOf(Duration(0))

// EnvName returns the environment variable of a key path given as its yaml
// keys and list indices, e.g. EnvName("destinations", "0", "url") =
// "RELAY_DESTINATIONS_0_URL".
func EnvName(path ...string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.Join(path, "_"))
}

// applyEnv overlays the environment on c. It walks Config's yaml tags: a
// leaf (scalar, duration, or list of those, comma-separated) is read from
// RELAY_<PATH> (an indexed RELAY_<PATH>_0 for such a list is an error that
// says so); a list of structs is indexed, RELAY_<PATH>_<i>_<KEY>, and an
// index equal to the list's length appends an element. An empty variable
// counts as unset, since getenv cannot tell the two apart.
func applyEnv(c *Config, getenv func(string) string) error {
	_, err := envStruct(reflect.ValueOf(c).Elem(), EnvPrefix, getenv)
	return err
}

// envStruct overlays the environment on the struct v whose variables start
// with prefix. It returns the name of the first variable that was set, ""
// when none was.
func envStruct(v reflect.Value, prefix string, getenv func(string) string) (string, error) {
	var first string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(key)
		f := v.Field(i)
		var set string
		var err error
		switch {
		case isLeaf(f.Type()):
			if f.Kind() == reflect.Slice && getenv(name+"_0") != "" {
				// Lists of values are one variable; an indexed one would
				// otherwise be ignored without a word.
				return "", fmt.Errorf("config: %s_0: a list of values is set by one comma-separated variable, %s", name, name)
			}
			s := getenv(name)
			if s == "" {
				continue
			}
			if lerr := setLeaf(f, s); lerr != nil {
				return "", fmt.Errorf("config: %s: %s", name, lerr.describe(key))
			}
			set = name
		case f.Kind() == reflect.Struct:
			set, err = envStruct(f, name, getenv)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			set, err = envList(f, name, getenv)
		default:
			return "", fmt.Errorf("config: %s: unsupported field type %s", name, f.Type())
		}
		if err != nil {
			return "", err
		}
		if first == "" {
			first = set
		}
	}
	return first, nil
}

// envList overlays the environment on the list of structs f: existing
// elements by index, then new elements while RELAY_<PATH>_<len>_… is set.
func envList(f reflect.Value, name string, getenv func(string) string) (string, error) {
	var first string
	for i := 0; ; i++ {
		prefix := name + "_" + strconv.Itoa(i)
		if i < f.Len() {
			set, err := envStruct(f.Index(i), prefix, getenv)
			if err != nil {
				return "", err
			}
			if first == "" {
				first = set
			}
			continue
		}
		elem := reflect.New(f.Type().Elem()).Elem()
		set, err := envStruct(elem, prefix, getenv)
		if err != nil {
			return "", err
		}
		if set == "" {
			break
		}
		f.Set(reflect.Append(f, elem))
		if first == "" {
			first = set
		}
	}
	// Indices must be consecutive; a variable past a gap would otherwise be
	// ignored without a word.
	for j := f.Len() + 1; j <= f.Len()+maxIndexGap; j++ {
		elem := reflect.New(f.Type().Elem()).Elem()
		set, err := envStruct(elem, name+"_"+strconv.Itoa(j), getenv)
		if err != nil {
			return "", err
		}
		if set != "" {
			return "", fmt.Errorf("config: %s: index %d leaves a gap: the list has %d elements, so the next index is %d (%s_%d_…)",
				set, j, f.Len(), f.Len(), name, f.Len())
		}
	}
	return first, nil
}

// yamlKey returns the yaml key of a struct field, "" for none.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	return key
}

// isLeaf reports whether values of t are set from one string: scalars,
// durations, and lists of those (comma-separated).
func isLeaf(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Slice && isLeaf(t.Elem())
	}
	return false
}

// leafError is a value that does not fit its key's type.
type leafError struct {
	value string // the bad value (an element, for a list)
	want  string // what would fit, e.g. "an integer"
}

// describe returns the error text for the key named key, without the value
// when the key holds a secret.
func (e *leafError) describe(key string) string {
	if isSecretKey(key) {
		return "invalid value (want " + e.want + ")"
	}
	return fmt.Sprintf("%q is not %s", e.value, e.want)
}

// isSecretKey reports whether a key's value must never be echoed: secrets,
// API keys, and database URLs (which may carry a password).
func isSecretKey(key string) bool {
	return strings.Contains(key, "secret") || strings.Contains(key, "key") ||
		strings.Contains(key, "password") || key == "database_url"
}

// setLeaf sets the leaf v from s.
func setLeaf(v reflect.Value, s string) *leafError {
	t := v.Type()
	switch {
	case t == durationType:
		d, err := parseDuration(strings.TrimSpace(s))
		if err != nil {
			return &leafError{s, "a duration (e.g. 15s, 5m, 1h30m)"}
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return &leafError{s, "true or false"}
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return &leafError{s, "an integer"}
		}
		v.SetInt(n)
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return &leafError{s, "a non-negative integer"}
		}
		v.SetUint(n)
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), t.Bits())
		if err != nil {
			return &leafError{s, "a number"}
		}
		v.SetFloat(x)
	case t.Kind() == reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		list := reflect.MakeSlice(t, len(parts), len(parts))
		for i, p := range parts {
			if err := setLeaf(list.Index(i), p); err != nil {
				return err
			}
		}
		v.Set(list)
	default:
		return &leafError{s, "a supported value"}
	}
	return nil
}

// explainYAML finds why the YAML document b does not decode into a Config
// and says so naming the key's path and line ("line 7: unknown key
// \"delivery.timout\"; did you mean \"timeout\"?"), one error per problem
// so that every misspelled key is reported at once. It returns nil when it
// finds nothing to add to yaml.v3's own message (a syntax error, say).
func explainYAML(b []byte) []error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil
	}
	return explainNode(&doc, reflect.TypeOf(Config{}), "")
}

func explainNode(n *yaml.Node, t reflect.Type, path string) []error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return explainNode(n.Content[0], t, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	key := path // the last key of the path, for describe: "a[0].b[2]" → "b"
	for strings.HasSuffix(key, "]") && strings.Contains(key, "[") {
		key = key[:strings.LastIndexByte(key, '[')]
	}
	key = key[strings.LastIndexByte(key, '.')+1:]
	var errs []error
	switch {
	case t.Kind() == reflect.Slice: // of scalars or of structs
		if n.Kind != yaml.SequenceNode {
			return []error{fmt.Errorf("line %d: %s: want a list", n.Line, path)}
		}
		for i, c := range n.Content {
			errs = append(errs, explainNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case isLeaf(t):
		if n.Kind != yaml.ScalarNode {
			return []error{fmt.Errorf("line %d: %s: want a single value, not a list or mapping", n.Line, path)}
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			lerr := &leafError{value: n.Value, want: "valid here"}
			if perr := setLeaf(reflect.New(t).Elem(), n.Value); perr != nil {
				lerr.want = perr.want
			}
			return []error{fmt.Errorf("line %d: %s: %s", n.Line, path, lerr.describe(key))}
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			where := path
			if where == "" {
				where = "the document"
			}
			return []error{fmt.Errorf("line %d: %s: want a mapping of keys to values", n.Line, where)}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key; yaml.v3 resolves it
				continue
			}
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				hint := ""
				if c := closestKey(k.Value, keysOf(t)); c != "" {
					hint = fmt.Sprintf("; did you mean %q?", c)
				}
				errs = append(errs, fmt.Errorf("line %d: unknown key %q%s (known keys here: %s)", k.Line, sub, hint, strings.Join(keysOf(t), ", ")))
				continue
			}
			errs = append(errs, explainNode(v, f.Type, sub)...)
		}
	}
	return errs
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keysOf(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}
