package envoyrules

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/xds/translate"
	"embassy.dev/embassy/xds/validate"
)

// selfLoopRule is an Embassy rule, not an Envoy load error: Envoy loads a
// listener that forwards to an address one of the node's own listeners
// binds, and every connection then proxies back into the sidecar, to
// itself a new connection per hop until connections or file descriptors
// run out (the app behind it never sees a byte). It is where a sidecar's
// inbound listener lands when it binds the socket its app was meant to
// listen on (so the app cannot start, or Envoy cannot bind), or when its
// app port is the sidecar's outbound port.
var selfLoopRule = Rule{
	ID:         selfLoopID,
	Source:     "source/common/tcp_proxy/tcp_proxy.cc",
	Embassy:    true,
	EnvoyError: "listener '{}' forwards to {}, where the sidecar's listener '{}' listens",
	set:        selfLoops,
}

const selfLoopID = "listener.forwards-to-itself"

func selfLoops(r *translate.Resources) []Violation {
	static := staticEndpoints(r.Clusters)
	bound := map[string]string{}
	for _, l := range r.Listeners {
		if addr, ok := boundAddress(l); ok {
			bound[addr] = l.GetName()
		}
	}
	// Only a cluster with an endpoint where a listener binds can close a
	// loop. Most sets have none, and finding where a listener forwards
	// unpacks its filters, for every listener of every shape checked.
	looping := map[string]bool{}
	for c, eps := range static {
		for _, ep := range eps {
			if _, ok := listenerAt(bound, ep); ok {
				looping[c] = true
			}
		}
	}
	if len(looping) == 0 {
		return nil
	}
	var out []Violation
	for _, l := range r.Listeners {
		for _, c := range upstreamClusters(l) {
			if !looping[c] {
				continue
			}
			for _, ep := range static[c] {
				if into, ok := listenerAt(bound, ep); ok {
					out = append(out, Violation{Type: "Listener", Name: l.GetName(), Path: ".filter_chains", Rule: selfLoopID,
						Envoy: fmt.Sprintf("listener '%s' forwards to %s, where the sidecar's listener '%s' listens", l.GetName(), ep, into)})
				}
			}
		}
	}
	return out
}

// staticEndpoints maps each STATIC cluster to the ip:port of its
// endpoints; EDS clusters' endpoints are elsewhere and never local.
func staticEndpoints(cs []*cluster.Cluster) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		if c.GetType() != cluster.Cluster_STATIC {
			continue
		}
		for _, loc := range c.GetLoadAssignment().GetEndpoints() {
			for _, e := range loc.GetLbEndpoints() {
				sa := e.GetEndpoint().GetAddress().GetSocketAddress()
				if sa != nil {
					out[c.GetName()] = append(out[c.GetName()], net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)))
				}
			}
		}
	}
	return out
}

// upstreamClusters lists the clusters a listener's tcp proxies and inline
// routes send to, Anys unpacked.
func upstreamClusters(l *listener.Listener) []string {
	var out []string
	validate.Walk("", l, func(_ string, m proto.Message) {
		switch x := m.(type) {
		case *tcp.TcpProxy:
			out = append(out, x.GetCluster())
		case *route.RouteAction:
			out = append(out, x.GetCluster())
			for _, w := range x.GetWeightedClusters().GetClusters() {
				out = append(out, w.GetName())
			}
		}
	})
	return out
}

// listenerAt names the listener receiving connections made to ep: one
// bound to it, or a wildcard one on its port.
func listenerAt(bound map[string]string, ep string) (string, bool) {
	if name, ok := bound[ep]; ok {
		return name, true
	}
	e, err := netip.ParseAddrPort(ep)
	if err != nil {
		return "", false
	}
	for _, wild := range []string{"0.0.0.0", "::"} {
		if name, ok := bound[netip.AddrPortFrom(netip.MustParseAddr(wild), e.Port()).String()]; ok {
			return name, true
		}
	}
	return "", false
}
