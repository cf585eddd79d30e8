package translate

import listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

// WithoutClashes returns the shared outbound listeners less those bound to
// an address one of a proxy's inbound listeners binds: the rule ForProxy
// applies, for callers that merge the two sets themselves (the xDS cache
// shares one outbound set between many proxies). Envoy would refuse the
// second listener on an address.
func WithoutClashes(outbound, inbound []*listener.Listener) []*listener.Listener {
	kept, _ := dropClashingListeners(outbound, inbound, Proxy{}, nil)
	return kept
}
