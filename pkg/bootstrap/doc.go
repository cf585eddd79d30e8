// Package bootstrap writes the start-up configuration of the two data
// planes Embassy serves: an Envoy sidecar's bootstrap (Envoy) and a
// proxyless gRPC application's xDS bootstrap (GRPCJSON). Both point the
// proxy at embassy-cp's ADS endpoint and tell it who it is; everything
// else arrives over xDS.
package bootstrap

// Defaults used when an option is left empty.
const (
	// AdminSocket is the unix socket, in the agent's socket directory,
	// where an Envoy sidecar serves its admin API by default: a socket of
	// the workload's own directory cannot collide with another sidecar's
	// or take a port the mesh uses, and only its owner may open it.
	AdminSocket = "envoy-admin.sock"
)
