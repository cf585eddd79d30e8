package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/policy/engine"
)

// grpcServer is an authorizer answering Check over gRPC on TCP loopback:
// the peer (opa-envoy-plugin) or embassy's Check server.
type grpcServer struct {
	*serverProc
	Addr    string
	Version string
}

// startPeer runs the opa-envoy-plugin binary bin as its users run it
// beside Envoy: its gRPC Check server on a free loopback port deciding
// data.envoy.authz.allow of policy and data, decision logs off, until it
// answers a Check about probe.
func startPeer(ctx context.Context, pin *cpuPin, bin string, jwtCache bool, policy string, data []byte, probe *authv3.CheckRequest) (*grpcServer, error) {
	var ports [3]int
	for i := range ports {
		p, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	loop := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	args := []string{"run", "--server", "--addr=" + loop(ports[0]), "--diagnostic-addr=" + loop(ports[1]),
		"--set=plugins.envoy_ext_authz_grpc.addr=" + loop(ports[2]),
		"--set=plugins.envoy_ext_authz_grpc.path=envoy/authz/allow",
		"--set=decision_logs.console=false", "policy.rego", "data.json"}
	if jwtCache {
		args = append(args, fmt.Sprintf("--set=caching.inter_query_builtin_value_cache.named.io_jwt.max_num_entries=%d", engine.JWTCacheSize))
	}
	run, args := pin.command(bin, args)
	proc, err := launch(run, args, policyFiles(policy, data))
	if err != nil {
		return nil, err
	}
	s := &grpcServer{serverProc: proc, Addr: loop(ports[2]), Version: binaryVersion(ctx, bin)}
	if err := s.waitCheck(ctx, probe); err != nil {
		proc.Stop()
		return nil, err
	}
	return s, nil
}

// waitCheck waits until the server decides probe.
func (s *grpcServer) waitCheck(ctx context.Context, probe *authv3.CheckRequest) error {
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	return s.waitReady(ctx, 30*time.Second, "Check on "+s.Addr, func() error {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := client.Check(cctx, probe)
		return err
	})
}

// Envoy's HTTP/2 flow-control windows, fixed (Http2ProtocolOptions'
// defaults): Envoy sends no bandwidth-estimation pings, which gRPC-Go's
// clients send by default and every server must then answer.
const (
	envoyStreamWindow = 16 << 20
	envoyConnWindow   = 24 << 20
)

// checkDecider opens gRPC clients of the Check server at target (any
// target grpc.NewClient takes), each on its own connection with Envoy's
// windows, asking about reqs.
func checkDecider(target string, reqs []*authv3.CheckRequest) newDecider {
	return func() (decider, func(), error) {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(envoyStreamWindow), grpc.WithInitialConnWindowSize(envoyConnWindow))
		if err != nil {
			return nil, nil, err
		}
		client := authv3.NewAuthorizationClient(conn)
		d := func(ctx context.Context, i int) (bool, error) {
			resp, err := client.Check(ctx, reqs[i])
			if err != nil {
				return false, err
			}
			switch c := code.Code(resp.GetStatus().GetCode()); c {
			case code.Code_OK:
				return true, nil
			case code.Code_PERMISSION_DENIED:
				return false, nil
			default:
				return false, fmt.Errorf("Check answered %v", c)
			}
		}
		return d, func() { conn.Close() }, nil
	}
}
