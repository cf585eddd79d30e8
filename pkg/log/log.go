// Package log builds Embassy's one root logger and names its subsystems, so
// every line says which component wrote it.
package log

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
)

// Sub-logger names, one per component. Components narrow further with
// their own Named (a stream, a proxy) or With (key/value pairs); names
// that appear in more than one place live here.
const (
	// ControlPlane is embassy-cp's wiring (start, stop, pushes).
	ControlPlane = "cp"
	// Store is the resource store (bbolt, etcd, memory).
	Store = "store"
	// API is the HTTP status and admin API.
	API = "api"
	// XDS is the ADS server; Cache its per-proxy publisher.
	XDS   = "xds"
	Cache = "cache"
	// Identity is the CA and the agents' identity service.
	Identity = "identity"
	// Agent is embassy-agent; SVID, SDS, WorkloadAPI, Register, Policy
	// and Envoy are its parts.
	Agent       = "agent"
	SVID        = "svid"
	SDS         = "sds"
	WorkloadAPI = "workloadapi"
	Register    = "register"
	Policy      = "policy"
	Envoy       = "envoy"
	// Authz is the ext_authz decision log (agent) and server.
	Authz = "authz"
	// Kubernetes is embassy-cp's discovery and attestation on Kubernetes.
	Kubernetes = "kubernetes"
)

// Options configure the root logger.
type Options struct {
	// Level is trace, debug, info, warn or error (default info).
	Level string
	// JSON switches to one JSON object per line.
	JSON bool
	// Output defaults to stderr.
	Output io.Writer
}

// New returns the root logger. Components take it by injection and call
// Named; nothing in Embassy logs through a global.
func New(name string, o Options) hclog.Logger {
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	level := hclog.LevelFromString(o.Level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		JSONFormat: o.JSON,
		Output:     out,
	})
}
