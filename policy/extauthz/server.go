// Package extauthz serves Envoy's ext_authz gRPC API
// (envoy.service.auth.v3.Authorization/Check) from a policy engine: it
// refuses a request whose path the sidecar should have normalized
// (pathcheck.go), builds the OPA-Envoy plugin's input document from each
// CheckRequest directly as OPA's value (input.go, protovalue.go), verifies
// end-user JWTs as Envoy's jwt_authn would (refusing a bad token with 401
// and putting verified claims into the input), decides with one policy
// revision, answers as the plugin answers (response.go), hands the
// decision to a log written off the Check path (log.go) and counts
// decisions per policy.
package extauthz

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

// Options configure a Server.
type Options struct {
	// DecisionLog receives the decisions, and is shared by the servers
	// given it; its owner closes it. When nil, the server makes its own
	// from Logger and LogHeaderValues, logging every decision, and closes
	// it when it stops.
	DecisionLog *DecisionLog
	// Logger receives the decisions when DecisionLog is nil; nil discards
	// them.
	Logger hclog.Logger
	// LogHeaderValues names the request headers (lower case) whose values
	// that log shows; every other header is logged with its value
	// redacted, since headers carry credentials.
	LogHeaderValues []string
	// Timeout bounds the evaluation of each Check; DefaultTimeout when
	// zero.
	Timeout time.Duration
	// CacheSize bounds how many decisions of a deterministic policy are
	// cached per revision (cache.go); zero turns the cache off.
	CacheSize int
}

// Server is the Check server. It is safe for concurrent use.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	engine    *engine.Engine
	decisions *DecisionLog
	ownLog    bool // decisions is the server's, closed by Stop
	timeout   time.Duration
	stats     stats
	cache     *decisionCache
	grpc      *GRPCServer
}

// New returns a Server deciding with e.
func New(e *engine.Engine, o Options) *Server {
	s := &Server{engine: e, decisions: o.DecisionLog, timeout: o.Timeout, cache: newDecisionCache(o.CacheSize)}
	if s.decisions == nil {
		s.decisions, s.ownLog = NewDecisionLog(o.Logger, o.LogHeaderValues, 1), true
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	s.grpc = NewGRPCServer(s)
	return s
}

// Check decides one request. It never returns an error: a request that
// cannot be parsed, or whose path the sidecar should have normalized
// (checkPath), is denied with 400, and a failing policy answers by its
// failure mode, so Envoy's own failure_mode_allow never decides for us.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	var (
		d   engine.Decision
		err error
		hit bool
	)
	if pathErr := checkPath(req); pathErr != nil {
		d, err = s.badRequest(pathErr), pathErr
	} else if d, hit = s.cache.hit(s.engine.Bundle(), req); hit {
		// A cached decision of a policy without JWT providers: nothing to
		// add, and no input to build.
	} else if input, inErr := InputValue(req); inErr != nil {
		d, err = s.badRequest(inErr), inErr
	} else if input, remove, denied := jwtCheck(s.engine.Bundle(), req, input, start); denied != nil {
		d = *denied
	} else {
		d, err = s.cache.decide(s.engine.Bundle(), input, func() (engine.Decision, error) { return s.decide(ctx, input) })
		if d.Allowed {
			d.RequestHeadersToRemove = append(d.RequestHeadersToRemove, remove...)
		}
	}
	id := decisionID()
	s.stats.count(d)
	s.decisions.Record(req, d, err, id, time.Since(start))
	return response(d, id), nil
}

// CheckWire is Check of a request in its wire form, answered in wire
// form, as GRPCServer serves it: a request the decision cache answers is
// never decoded, nor its answer built; any other is decoded and decided
// by Check. Bytes that are not a CheckRequest are refused with
// InvalidArgument.
func (s *Server) CheckWire(ctx context.Context, raw []byte) ([]byte, error) {
	start := time.Now()
	if v, hit := s.cache.hitWire(s.engine.Bundle(), raw); hit {
		id := decisionID()
		s.stats.count(v.d)
		s.decisions.RecordWire(raw, v.d, id, time.Since(start))
		return v.wire.append(make([]byte, 0, v.wire.size(len(id))), id), nil
	}
	return CheckEncoded(ctx, s, raw)
}

// CheckEncoded decodes raw, decides it with check and encodes the
// answer: a WireChecker's path for a request it does not answer from
// the bytes. Bytes that are not a CheckRequest are refused with
// InvalidArgument.
func CheckEncoded(ctx context.Context, check authv3.AuthorizationServer, raw []byte) ([]byte, error) {
	req := new(authv3.CheckRequest)
	if err := proto.Unmarshal(raw, req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the request is not an envoy.service.auth.v3.CheckRequest: %v", err)
	}
	resp, err := check.Check(ctx, req)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding the answer: %v", err)
	}
	return out, nil
}

// badRequest is the decision for a request no policy may decide on (no
// input document, or a path the sidecar should have normalized): 400,
// except in dry-run, where nothing is denied.
func (s *Server) badRequest(err error) engine.Decision {
	d := engine.Decision{Reason: err.Error(), HTTPStatus: http.StatusBadRequest, Body: err.Error()}
	if b := s.engine.Bundle(); b != nil {
		d.Policy, d.Revision, d.DryRun = b.Name(), b.Revision(), b.Mode() == compile.ModeDryRun
	}
	return d
}

// Register adds the Check service to g, for callers serving other
// services on the same gRPC server.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// Serve serves Check on lis until Stop; it may be called for several
// listeners (a unix socket and a loopback port) at once.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(lis) }

// Stop stops every Serve, letting calls in flight finish, then writes
// the decision lines still queued in a log of the server's own.
func (s *Server) Stop() {
	s.grpc.Stop()
	if s.ownLog {
		s.decisions.Close()
	}
}

// decisionID names one decision's log line. It needs to be unique, not
// secret, so it comes from the runtime's generator (ChaCha8, seeded from
// the system), which costs no system call, rather than crypto/rand.
func decisionID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}
