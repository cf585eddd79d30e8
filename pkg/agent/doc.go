// Package agent is embassy-agent's work: it holds one workload's identity
// and hands it out on the workload's node.
//
// The Manager attests once with a join token and a CSR for a key made here,
// then renews the X.509-SVID at half its lifetime (±10%) with a new key,
// publishing each change as one immutable Identity. Its subscribers are
// the SDS server for Envoy (dataplane.SDSSocket), the SPIFFE Workload API
// (dataplane.WorkloadSocket) and the PEM files for proxyless gRPC
// (dataplane.CertFile, dataplane.KeyFile, dataplane.BundleFile), all in one
// socket directory. The Registrar keeps the
// Workload registered. Agent runs them together; the agent also writes the
// Envoy bootstrap and supervises Envoy (Supervisor).
//
// Private keys never leave the node: only CSRs go to the control plane;
// keys reach Envoy and applications over the local sockets and the 0600
// key file.
package agent
