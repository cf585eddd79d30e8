package translate

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// extAuthzMaxRequestBody is how much of a body Envoy buffers for a policy
// that reads it.
const extAuthzMaxRequestBody = 8 << 10

// regoBodyMarker is the text every reference to a request body in a policy
// contains: input.parsed_body, input.truncated_body and
// input.attributes.request.http.body or raw_body.
const regoBodyMarker = "body"

// extAuthzNeeds is what the policies a workload's agent decides ask of the
// ext_authz filter.
type extAuthzNeeds struct {
	// failOpen: every such policy is in dry-run or has failureMode allow,
	// so an agent that cannot answer must not deny.
	failOpen bool
	// body: some policy reads the request body.
	body bool
	// jwt: jwt_authn runs first, and its payloads go along.
	jwt bool
}

// add accounts for one more policy decided by the agent. A nil receiver
// is "no policy yet".
func (n *extAuthzNeeds) add(p *mesh.AuthorizationPolicy, enforce bool) *extAuthzNeeds {
	failOpen := !enforce || p.FailureMode == mesh.FailureAllow
	if n == nil {
		n = &extAuthzNeeds{failOpen: true}
	}
	n.failOpen = n.failOpen && failOpen
	n.body = n.body || readsBody(p.Spec)
	return n
}

// withJWT marks that the jwt_authn filter runs before ext_authz.
func (n *extAuthzNeeds) withJWT() *extAuthzNeeds {
	if n != nil {
		n.jwt = true
	}
	return n
}

// readsBody reports whether a policy's Rego can read the request body. It
// errs towards yes: any mention of "body" counts, since a policy that
// needs the body and does not get it decides on null.
func readsBody(s *resource.AuthorizationPolicySpec) bool {
	for _, m := range s.Modules {
		if strings.Contains(m.Rego, regoBodyMarker) {
			return true
		}
	}
	return false
}

// extAuthzFilter asks the workload's agent over gRPC, through the
// bootstrap's embassy_authz cluster, within extAuthzTimeout.
//
// It fails closed unless every policy the agent decides there is dry-run
// or failureMode allow: then an agent that is down or slow lets requests
// through, as the agent itself would (failure_mode_allow).
//
// It sends the body only when a policy reads it, and never on grpc ports:
// with with_request_body Envoy holds the check until the end of the
// stream or a full buffer (ext_authz.cc), so a client- or bidi-streaming
// call that sends a little and waits for an answer would hang forever,
// and a policy cannot parse protobuf frames anyway. allow_partial_message
// sends what fits instead of answering 413 to a larger body.
//
// With jwt, the jwt_authn filter's verified payloads go along as the
// request's metadata context.
func extAuthzFilter(n *extAuthzNeeds, protocol string) *hcm.HttpFilter {
	cfg := &extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &core.GrpcService{
			TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: dataplane.AuthzClusterName}},
			Timeout:         durationpb.New(extAuthzTimeout),
		}},
		TransportApiVersion: core.ApiVersion_V3,
		FailureModeAllow:    n.failOpen,
	}
	if n.body && protocol != resource.ProtocolGRPC {
		cfg.WithRequestBody = &extauthzv3.BufferSettings{MaxRequestBytes: extAuthzMaxRequestBody, AllowPartialMessage: true}
	}
	if n.jwt {
		cfg.MetadataContextNamespaces = []string{JWTAuthnFilterName}
	}
	return &hcm.HttpFilter{Name: ExtAuthzFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(cfg)}}
}
