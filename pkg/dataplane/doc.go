// Package dataplane is the contract between embassy-cp, embassy-agent and
// the proxies beside them: what each side names and the other must find.
// The agent serves sockets, PEM files and SDS secrets under these names;
// the bootstraps and the translator point Envoy and proxyless gRPC at
// them; the control plane reads node ids and SPIFFE IDs in this format.
//
// It is the one place each of these is written, in the spirit of
// go-control-plane's wellknown package. It holds no Envoy types, so the
// model may use it; the SDS config shape, which is Envoy's, is in
// subpackage sds.
package dataplane
