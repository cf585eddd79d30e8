package client

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// replicasScheme is the resolver scheme of a target that lists replicas.
const replicasScheme = "embassy-cp-replicas"

// ControlPlaneTarget turns embassy-cp's address (host:port), or several
// replicas' addresses, comma-separated, into a gRPC target and the dial
// options it needs. Several replicas are one channel whose addresses
// gRPC tries in the order given (pick_first): a connection lost with one
// replica is made again to the first that answers, so a client fails
// over without knowing which replica died.
func ControlPlaneTarget(addrs string) (string, []grpc.DialOption, error) {
	var list []string
	for a := range strings.SplitSeq(addrs, ",") {
		a = strings.TrimSpace(a)
		if _, _, err := net.SplitHostPort(a); err != nil || a == "" {
			return "", nil, fmt.Errorf("control plane address %q in %q: expected host:port, several separated by single commas", a, addrs)
		}
		if slices.Contains(list, a) {
			return "", nil, fmt.Errorf("control plane address %s is listed twice in %q", a, addrs)
		}
		list = append(list, a)
	}
	if len(list) == 1 {
		return list[0], nil, nil
	}
	r := manual.NewBuilderWithScheme(replicasScheme)
	state := resolver.State{}
	for _, a := range list {
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
	}
	r.InitialState(state)
	return replicasScheme + ":///" + strings.Join(list, ","), []grpc.DialOption{grpc.WithResolvers(r)}, nil
}
