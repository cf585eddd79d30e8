package resource

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// rawMessageType marks fields that hold arbitrary JSON (such as
// AuthorizationPolicySpec.Data): the shape check accepts anything there.
var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkShape walks v, a document decoded generically (with UseNumber),
// against the Go type t and reports every unknown field and every value of
// the wrong type, each with its full path. encoding/json alone would stop
// at the first problem and, for unknown fields, give no path at all.
func checkShape(v any, t reflect.Type, path string, report func(path, msg string)) {
	if v == nil {
		return // null leaves a field unset, as encoding/json does.
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(v, t.Elem(), path, report)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			report(path, "expected a mapping, got "+describe(v))
			return
		}
		fields, names := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, known := fields[k]
			if !known {
				report(joinField(path, k), "unknown field; expected one of "+strings.Join(names, ", "))
				continue
			}
			checkShape(m[k], f.Type, joinField(path, k), report)
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			report(path, "expected a list, got "+describe(v))
			return
		}
		for i, e := range l {
			checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), report)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			report(path, "expected a mapping, got "+describe(v))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			checkShape(m[k], t.Elem(), joinField(path, k), report)
		}
	case reflect.String:
		switch v.(type) {
		case string:
		case bool:
			// YAML 1.1 reads unquoted y, yes, on and true alike as booleans.
			report(path, "expected a string, got "+describe(v)+" (YAML reads unquoted y, yes, on, off as booleans: quote the value)")
		default:
			report(path, "expected a string, got "+describe(v)+" (quote the value)")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			report(path, "expected true or false, got "+describe(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		checkInt(v, t, path, report)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		checkUint(v, t, path, report)
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			report(path, "expected a number, got "+describe(v))
		}
	}
}

// checkInt accepts a whole number that fits the signed integer type t.
func checkInt(v any, t reflect.Type, path string, report func(path, msg string)) {
	n, ok := v.(json.Number)
	if !ok {
		report(path, "expected an integer, got "+describe(v))
		return
	}
	lo, hi := int64(math.MinInt64)>>(64-t.Bits()), int64(math.MaxInt64)>>(64-t.Bits())
	if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
		report(path, fmt.Sprintf("expected an integer from %d to %d, got %s", lo, hi, n))
	}
}

// checkUint accepts a whole number that fits the unsigned integer type t.
func checkUint(v any, t reflect.Type, path string, report func(path, msg string)) {
	n, ok := v.(json.Number)
	if !ok {
		report(path, "expected an integer, got "+describe(v))
		return
	}
	if _, err := strconv.ParseUint(n.String(), 10, t.Bits()); err != nil {
		hi := uint64(math.MaxUint64) >> (64 - t.Bits())
		report(path, fmt.Sprintf("expected an integer from 0 to %d, got %s", hi, n))
	}
}

// jsonFields maps the JSON names of t's exported fields to the fields, and
// lists the names in declaration order for "expected one of" messages.
func jsonFields(t reflect.Type) (map[string]reflect.StructField, []string) {
	fields := make(map[string]reflect.StructField, t.NumField())
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
		names = append(names, name)
	}
	return fields, names
}

// describe names a generic JSON value for "got ..." messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case json.Number:
		return "number " + x.String()
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// plainKey matches map keys that read well after a dot in a path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// joinField appends a field or map key to a path, quoting keys such as
// "app.kubernetes.io/name" that would make the path ambiguous.
func joinField(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
