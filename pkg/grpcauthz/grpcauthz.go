// Package grpcauthz lets a proxyless gRPC server have its workload's
// embassy-agent decide each call, as an Envoy sidecar's ext_authz filter
// has the agent decide each request. gRPC's own xDS client has no
// ext_authz filter, and RBAC has no dry-run a gRPC server reports: without
// this, a policy RBAC cannot express, and every dry-run policy, goes
// undecided on a proxyless server. With it the agent evaluates the
// workload's policies (enforced and dry-run), counts the decisions and
// reports them to the control plane, where /v1/policies and `embassyctl
// describe` show them.
//
// The CheckRequest is built from what the server knows of the call: the
// caller's SPIFFE ID from its certificate, both addresses, the method as
// the :path, and the call's metadata as headers. The server's own SPIFFE
// ID is not known to the connection and is left out.
package grpcauthz

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Checker asks an ext_authz server (the agent's authz.sock) about calls.
// It is safe for concurrent use.
type Checker struct {
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient
}

// Dial connects to the ext_authz server on the unix socket at path
// (relative to the working directory, or absolute). The connection is made
// lazily, so the agent may start after the server.
func Dial(path string) (*Checker, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("ext_authz socket %s: %w", path, err)
	}
	conn, err := grpc.NewClient("unix://"+abs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("ext_authz socket %s: %w", path, err)
	}
	return &Checker{conn: conn, client: authv3.NewAuthorizationClient(conn)}, nil
}

// Close closes the connection to the agent.
func (c *Checker) Close() error { return c.conn.Close() }

// UnaryInterceptor decides each unary call before its handler runs.
func (c *Checker) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := c.Check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor decides each streaming call before its handler runs.
func (c *Checker) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := c.Check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// Check asks the agent about the call in ctx to fullMethod. It returns
// nil when the call is allowed, PermissionDenied with the agent's reason
// when it is denied, and Unavailable when the agent cannot be asked: the
// server fails closed, as a sidecar whose policies must be enforced does.
func (c *Checker) Check(ctx context.Context, fullMethod string) error {
	resp, err := c.client.Check(ctx, CheckRequest(ctx, fullMethod))
	if err != nil {
		return status.Errorf(codes.Unavailable, "the workload's authorization agent could not decide this call: %v", status.Convert(err).Message())
	}
	if s := resp.GetStatus(); s.GetCode() != int32(codes.OK) {
		msg := s.GetMessage()
		if msg == "" {
			msg = "denied by the workload's authorization policies"
		}
		return status.Error(codes.PermissionDenied, msg)
	}
	return nil
}

// CheckRequest describes the call in ctx to fullMethod as Envoy's
// ext_authz filter would describe the same gRPC request: a POST to the
// method's path over HTTP/2, its metadata as lower-case headers (values of
// one key joined with ","), with the pseudo-headers Envoy adds.
func CheckRequest(ctx context.Context, fullMethod string) *authv3.CheckRequest {
	headers := map[string]string{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	host := headers[":authority"]
	scheme := "http"
	src := &authv3.AttributeContext_Peer{}
	dst := &authv3.AttributeContext_Peer{}
	if p, ok := peer.FromContext(ctx); ok {
		src.Address, dst.Address = socketAddress(p.Addr), socketAddress(p.LocalAddr)
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			scheme = "https"
			if certs := info.State.PeerCertificates; len(certs) > 0 {
				src.Principal = spiffeID(certs[0].URIs)
			}
		}
	}
	headers[":method"], headers[":path"], headers[":scheme"] = "POST", fullMethod, scheme
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: src, Destination: dst,
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: fullMethod, Host: host, Scheme: scheme, Protocol: "HTTP/2",
			Headers: headers, Size: -1,
		}},
	}}
}

// spiffeID is the first spiffe:// URI SAN, as Envoy reports a peer's
// principal; "" when there is none.
func spiffeID(uris []*url.URL) string {
	for _, u := range uris {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// socketAddress is addr as an Envoy address; nil for an address that is
// not ip:port (a unix socket).
func socketAddress(addr net.Addr) *corev3.Address {
	if addr == nil {
		return nil
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	p, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}
