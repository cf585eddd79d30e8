package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
	"embassy.dev/embassy/policy/rbac"
)

// AuthzConfig configures MeasureAuthz.
type AuthzConfig struct {
	// Calls bounds the Checks each authorizer gets; Duration bounds the
	// time each one is measured, whichever ends first.
	Calls    int
	Duration time.Duration
	// Clients is how many clients call at once, each on its own
	// connection.
	Clients int
	// OPA is the opa binary to compare with; empty skips the comparison,
	// and OPASkipped then says why in the report.
	OPA        string
	OPASkipped string
	Log        io.Writer

	// opaURL, in tests, is an OPA-compatible server already running, used
	// instead of starting OPA.
	opaURL string
}

// AuthzReport is what MeasureAuthz measured.
type AuthzReport struct {
	// Requests and Allowed describe the fixed request set.
	Requests, Allowed int
	Clients           int
	// Embassy is the agent's ext_authz Check server over its unix socket.
	Embassy AuthzRow
	// OPA is the standalone OPA server over HTTP, when OPASkipped is
	// empty; OPAVersion is what `opa version` said.
	OPA        AuthzRow
	OPASkipped string
	OPAVersion string
	// Disagreements counts requests of the set that the two decided
	// differently when each was asked once before the load.
	Disagreements int
	// RBAC says whether the policy compiles to RBAC, and if not, why.
	RBAC *rbac.Result
	// CPUs, and the load average before and after the section.
	CPUs                  int
	LoadBefore, LoadAfter string
}

// The rows' names in the table.
const (
	authzEmbassyName = "embassy ext_authz (agent, unix)"
	authzOPAName     = "OPA server (HTTP, loopback)"
	authzRBACName    = "RBAC (compiled, in the proxy)"
)

// MeasureAuthz measures Check latency and throughput of the agent's
// ext_authz server (policy/extauthz on a unix socket, over gRPC) and, in
// the same run, of a standalone OPA server on loopback (POST
// /v1/data/envoy/authz/allow), both deciding one JWT-and-path policy over
// one fixed set of requests, with the same input documents: those
// extauthz.BuildInput makes. Every decision on both sides is compared with
// the reference decision of its request.
func MeasureAuthz(ctx context.Context, cfg AuthzConfig) (*AuthzReport, error) {
	if cfg.Calls < 1 {
		cfg.Calls = 5000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Clients < 1 {
		cfg.Clients = 2
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "authz: "+format+"\n", args...)
		}
	}
	rep := &AuthzReport{Clients: cfg.Clients, CPUs: runtime.NumCPU(), LoadBefore: loadAverage(), OPASkipped: cfg.OPASkipped}
	reqs := authzRequests(time.Now())
	rep.Requests = len(reqs)
	for _, r := range reqs {
		if r.want {
			rep.Allowed++
		}
	}
	modules := []resource.RegoModule{{Name: "policy.rego", Rego: authzPolicy}}
	bundle, err := compile.Compile("bench/jwt-and-path", &resource.AuthorizationPolicySpec{Modules: modules, Data: authzData})
	if err != nil {
		return nil, fmt.Errorf("compiling the policy: %w", err)
	}
	if rep.RBAC, err = rbac.Compile(modules, authzData, "", compile.RegoV1); err != nil {
		return nil, fmt.Errorf("compiling the policy to RBAC: %w", err)
	}

	embassy, stop, err := serveExtAuthz(bundle, reqs)
	if err != nil {
		return nil, err
	}
	defer stop()

	// The reference decision of each request is the agent's, asked once;
	// it must be the one the request set means, or the policy or the set
	// is wrong and nothing measured would mean anything.
	ref, err := decideAll(ctx, embassy, len(reqs))
	if err != nil {
		return nil, fmt.Errorf("embassy ext_authz: %w", err)
	}
	for i, r := range reqs {
		if ref[i] != r.want {
			return nil, fmt.Errorf("embassy ext_authz decided allow=%t for %q, which the policy means to be allow=%t", ref[i], r.name, r.want)
		}
	}

	logf("embassy ext_authz on a unix socket: %d clients, up to %d calls or %v...", cfg.Clients, cfg.Calls, cfg.Duration)
	if rep.Embassy, err = load(ctx, authzEmbassyName, cfg.Clients, cfg.Calls, cfg.Duration, ref, embassy); err != nil {
		return rep, err
	}

	opaURL := cfg.opaURL
	if opaURL == "" && cfg.OPA != "" {
		logf("starting %s run --server on loopback...", cfg.OPA)
		srv, err := startOPA(ctx, cfg.OPA)
		if err != nil {
			rep.OPASkipped = fmt.Sprintf("starting the OPA server failed: %v", err)
		} else {
			defer srv.Stop()
			opaURL, rep.OPAVersion = srv.URL, srv.Version
		}
	}
	if opaURL == "" {
		if rep.OPASkipped == "" {
			rep.OPASkipped = "no opa binary was given"
		}
		rep.LoadAfter = loadAverage()
		return rep, nil
	}
	bodies, err := opaBodies(reqs)
	if err != nil {
		return rep, err
	}
	opa := httpDecider(opaURL+opaDecisionPath, bodies)
	theirs, err := decideAll(ctx, opa, len(reqs))
	if err != nil {
		return rep, fmt.Errorf("OPA server: %w", err)
	}
	for i := range reqs {
		if theirs[i] != ref[i] {
			rep.Disagreements++
			logf("embassy and OPA disagree on %q: allow=%t and allow=%t", reqs[i].name, ref[i], theirs[i])
		}
	}
	logf("OPA server over HTTP: %d clients, up to %d calls or %v...", cfg.Clients, cfg.Calls, cfg.Duration)
	rep.OPA, err = load(ctx, authzOPAName, cfg.Clients, cfg.Calls, cfg.Duration, ref, opa)
	rep.LoadAfter = loadAverage()
	return rep, err
}

// serveExtAuthz serves bundle's Check API on a unix socket as the agent
// does (one engine, one extauthz.Server, decision logs as JSON, here
// discarded) and returns a way to open clients of it asking about reqs.
func serveExtAuthz(bundle *compile.Bundle, reqs []authzRequest) (newDecider, func(), error) {
	e := engine.New()
	if err := e.Load(bundle); err != nil {
		return nil, nil, fmt.Errorf("loading the policy: %w", err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "authz", JSONFormat: true, Output: io.Discard, Level: hclog.Info})
	srv := extauthz.New(e, extauthz.Options{Logger: logger})
	// Unix socket paths are short: a temporary directory's is safe.
	dir, err := os.MkdirTemp("", "eb-authz-")
	if err != nil {
		return nil, nil, err
	}
	lis, err := extauthz.ListenUnix(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	stop := func() {
		srv.Stop()
		<-served
		os.RemoveAll(dir)
	}
	target := "unix://" + filepath.Join(dir, extauthz.SocketName)
	open := func() (decider, func(), error) {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		client := authv3.NewAuthorizationClient(conn)
		d := func(ctx context.Context, i int) (bool, error) {
			resp, err := client.Check(ctx, reqs[i].req)
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
	return open, stop, nil
}

// decideAll asks one client about every request once, in order.
func decideAll(ctx context.Context, open newDecider, n int) ([]bool, error) {
	d, done, err := open()
	if err != nil {
		return nil, err
	}
	defer done()
	out := make([]bool, n)
	for i := range n {
		if out[i], err = d(ctx, i); err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
	}
	return out, nil
}

// opaBodies encodes, for each request, {"input": <the document
// extauthz.BuildInput makes of it>}, so OPA is asked about exactly what
// the agent's policy sees.
func opaBodies(reqs []authzRequest) ([][]byte, error) {
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		input, err := extauthz.BuildInput(r.req)
		if err != nil {
			return nil, fmt.Errorf("building the input of %q: %w", r.name, err)
		}
		if out[i], err = json.Marshal(map[string]any{"input": input}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadAverage is the first three fields of /proc/loadavg, or why not.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
