package resource

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Validate checks one resource's shape: envelope (apiVersion, kind,
// metadata.name as a DNS-1123 label, namespace), and the kind's spec rules.
// It returns *Errors listing every problem, or nil. A namespaced resource
// must carry its namespace: call SetDefaults first when building one in code.
func Validate(r *Resource) error {
	if r == nil {
		return &Errors{{Index: -1, Msg: "resource is nil"}}
	}
	v := &validator{s: subjectOf(r)}
	v.envelope(r)
	if !v.specMatchesKind(r) {
		return v.errs.orNil()
	}
	switch spec := r.Spec.(type) {
	case *MeshSpec:
		v.mesh(spec)
	case *ServiceSpec:
		v.service(spec)
	case *WorkloadSpec:
		v.workload(spec)
	case *RouteSpec:
		v.route(spec)
	case *TrafficPolicySpec:
		v.trafficPolicy(spec)
	case *AuthorizationPolicySpec:
		v.authorizationPolicy(spec)
	}
	return v.errs.orNil()
}

// validator collects the problems of one resource.
type validator struct {
	s    subject
	errs Errors
}

// errorf records a problem at path.
func (v *validator) errorf(path, format string, args ...any) {
	v.errs.add(v.s, path, format, args...)
}

// envelope checks apiVersion, kind and metadata.
func (v *validator) envelope(r *Resource) {
	if r.APIVersion != APIVersion {
		v.errorf("apiVersion", "must be %s, got %q", APIVersion, r.APIVersion)
	}
	if NewSpec(r.Kind) == nil {
		v.errorf("kind", "unknown kind %q; expected one of %s", r.Kind, kindList())
	}
	v.dnsLabel("metadata.name", r.Metadata.Name, true)
	switch {
	case !r.Kind.Namespaced() && r.Metadata.Namespace != "":
		v.errorf("metadata.namespace", "must not be set: a Mesh is cluster-wide, got %q", r.Metadata.Namespace)
	case r.Kind.Namespaced():
		v.dnsLabel("metadata.namespace", r.Metadata.Namespace, true)
	}
}

// specMatchesKind reports whether Spec holds the kind's non-nil spec
// pointer; the kind rules cannot run otherwise.
func (v *validator) specMatchesKind(r *Resource) bool {
	want := NewSpec(r.Kind)
	if want == nil {
		return false
	}
	switch {
	case r.Spec == nil:
		v.errorf("spec", "required")
	case reflect.TypeOf(r.Spec) != reflect.TypeOf(want):
		v.errorf("spec", "holds %T; a %s needs %T", r.Spec, r.Kind, want)
	case reflect.ValueOf(r.Spec).IsNil():
		v.errorf("spec", "required")
	default:
		return true
	}
	return false
}

// dnsLabelPattern is RFC 1123's label: what Kubernetes accepts as a name.
var dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel checks that s is a DNS-1123 label (empty is allowed unless
// required).
func (v *validator) dnsLabel(path, s string, required bool) {
	if s == "" {
		if required {
			v.errorf(path, "required")
		}
		return
	}
	if err := CheckName(s); err != nil {
		v.errorf(path, "%v", err)
	}
}

// dnsLabels checks that each of a list of names is a DNS-1123 label and
// that none repeats; what says what one name is, for the error.
func (v *validator) dnsLabels(path, what string, names []string) {
	seen := map[string]int{}
	for i, name := range names {
		at := index(path, i)
		v.dnsLabel(at, name, true)
		if j, dup := seen[name]; dup {
			v.errorf(at, "duplicate %s %q (also %s)", what, name, index(path, j))
		} else {
			seen[name] = i
		}
	}
}

// CheckName checks that s can name a resource, a namespace or a service
// account: a DNS-1123 label, as Kubernetes requires of a name.
func CheckName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("must not be empty")
	case len(s) > 63:
		return fmt.Errorf("must be at most 63 characters, got %d", len(s))
	case !dnsLabelPattern.MatchString(s):
		return fmt.Errorf("must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got %q", s)
	}
	return nil
}

// oneOf checks that s is one of allowed (empty is allowed unless required).
func (v *validator) oneOf(path, s string, required bool, allowed ...string) {
	if s == "" && !required {
		return
	}
	if !slices.Contains(allowed, s) {
		v.errorf(path, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
	}
}

// portRange checks that p is within lo..65535.
func (v *validator) portRange(path string, p uint32, lo uint32) {
	if p < lo || p > 65535 {
		v.errorf(path, "must be from %d to 65535, got %d", lo, p)
	}
}

// duration parses d as a Go duration that must be > 0. It returns the
// duration and whether it is set and valid.
func (v *validator) duration(path string, d Duration) (time.Duration, bool) {
	if d == "" {
		return 0, false
	}
	t, err := time.ParseDuration(string(d))
	if err != nil {
		v.errorf(path, "must be a duration such as 250ms, 5s or 1h, got %q", string(d))
		return 0, false
	}
	if t <= 0 {
		v.errorf(path, "must be > 0, got %s", string(d))
		return 0, false
	}
	return t, true
}

// index renders a list element's path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
