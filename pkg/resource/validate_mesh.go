package resource

import (
	"regexp"
	"time"
)

// trustDomainPattern is the character set SPIFFE allows in a trust domain.
var trustDomainPattern = regexp.MustCompile(`^[a-z0-9._-]+$`)

// SVID lifetimes outside these bounds either rotate too often to be served
// or stay valid long after a workload is gone.
const (
	minSVIDTTL = 10 * time.Second
	maxSVIDTTL = 720 * time.Hour
)

// DefaultSVIDTTL is the lifetime of workload certificates when the Mesh
// names none.
const DefaultSVIDTTL Duration = "1h"

// SVIDLifetime is the Mesh's svidTTL as a duration, DefaultSVIDTTL when it
// is unset (or unreadable, which validation refuses).
func (m MeshSpec) SVIDLifetime() time.Duration {
	ttl := m.SVIDTTL
	if ttl == "" {
		ttl = DefaultSVIDTTL
	}
	d, err := time.ParseDuration(string(ttl))
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(string(DefaultSVIDTTL))
	}
	return d
}

// mesh checks a MeshSpec.
func (v *validator) mesh(s *MeshSpec) {
	switch {
	case s.TrustDomain == "":
		v.errorf("spec.trustDomain", "required, e.g. example.org")
	case !trustDomainPattern.MatchString(s.TrustDomain):
		v.errorf("spec.trustDomain", "must be a SPIFFE trust domain (lowercase letters, digits, '.', '-' and '_'), got %q", s.TrustDomain)
	}
	if s.MTLS != nil {
		v.oneOf("spec.mtls.mode", s.MTLS.Mode, true, MTLSStrict, MTLSPermissive, MTLSDisabled)
	}
	if s.CA != nil {
		v.ca(s.CA)
	}
	v.oneOf("spec.configScoping", s.ConfigScoping, false, ScopingModes...)
	v.oneOf("spec.sidecarRoutes", s.SidecarRoutes, false, SidecarRoutesModes...)
	if s.SVIDTTL != "" {
		if d, ok := v.duration("spec.svidTTL", s.SVIDTTL); ok && (d < minSVIDTTL || d > maxSVIDTTL) {
			v.errorf("spec.svidTTL", "must be from %s to %s, got %s", minSVIDTTL, maxSVIDTTL, string(s.SVIDTTL))
		}
	}
}

// ca checks the mesh's CA choice and the settings that choice needs.
func (v *validator) ca(ca *CA) {
	v.oneOf("spec.ca.type", ca.Type, true, "builtin", "provided", "spire")
	switch ca.Type {
	case "provided":
		if ca.CertFile == "" {
			v.errorf("spec.ca.certFile", "required when type is provided")
		}
		if ca.KeyFile == "" {
			v.errorf("spec.ca.keyFile", "required when type is provided")
		}
	case "spire":
		if ca.SocketPath == "" {
			v.errorf("spec.ca.socketPath", "required when type is spire (the SPIRE agent's Workload API socket)")
		}
	}
}
