// Package envoyrules holds the rules Envoy enforces when it loads
// configuration, beyond what its protos' validation annotations say, for
// the fields Embassy generates. ValidateAll passes a local rate limit
// refilling every millisecond, a header value "50%" and a gRPC health
// check on an HTTP/1 cluster; Envoy refuses each of them, and one refused
// resource shared by every sidecar (a service's outbound
// RouteConfiguration) is a NACK on every sidecar.
//
// Each Rule names the Envoy source file it mirrors and the error text
// Envoy gives, so a violation reads the way Envoy's NACK would, and
// docs/envoy.md lists them. Check runs every rule over the resources of
// one node; the publisher runs it, with package validate, before a set is
// served, so a set Envoy would refuse never reaches a proxy.
package envoyrules
