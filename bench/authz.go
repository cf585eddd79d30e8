package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/extauthz"
	"embassy.dev/embassy/policy/rbac"
)

// AuthzConfig configures MeasureAuthz.
type AuthzConfig struct {
	// Calls bounds the Checks each authorizer gets per round; Duration
	// bounds the time of each, whichever ends first.
	Calls    int
	Duration time.Duration
	// Rounds is how many times each scenario measures both authorizers,
	// alternating which goes first.
	Rounds int
	// Clients are the numbers of concurrent clients, each on its own
	// connection, the JWT scenario runs with; the cache scenarios run with
	// the largest.
	Clients []int
	// Child makes the command of a process running ServeAuthzChild:
	// embassy's Check server runs apart, so its CPU time is its own.
	Child func() *exec.Cmd
	// CacheSize is the decision cache of the cache scenario.
	CacheSize int
	// Peer is an opa-envoy-plugin binary, the authorizer users run beside
	// Envoy; without one, OPA (an opa binary) serves over HTTP instead and
	// OPASkipped says why when neither runs.
	Peer       string
	OPA        string
	OPASkipped string
	Log        io.Writer
	// Pin runs both servers on one CPU and the clients on the others
	// (cpuPin), when the machine has two or more.
	Pin bool
	// PeerJWTCache turns on, in the peer, the verified-token cache the
	// agent runs with (engine.JWTCacheSize); users of the plugin run
	// without it unless they configure it.
	PeerJWTCache bool
	// CPUProfiles, when set, is a path prefix: embassy's Check server
	// writes the CPU profile of each scenario to PREFIX-N.prof, N counting
	// scenarios from 1.
	CPUProfiles string

	pin *cpuPin
	// opaURL, in tests, is an OPA-compatible server already running, used
	// instead of starting OPA.
	opaURL string
}

// AuthzReport is what MeasureAuthz measured.
type AuthzReport struct {
	// Requests and Allowed describe the JWT scenario's fixed request set.
	Requests, Allowed int
	Rounds            int
	// PeerName says what embassy was compared with and how it was reached;
	// PeerSkipped, when set, says why nothing was.
	PeerName    string
	PeerSkipped string
	Scenarios   []AuthzScenario
	// RBAC says whether the JWT policy compiles to RBAC, and if not, why.
	RBAC      *rbac.Result
	Footprint AuthzFootprint
	// Pinning says on which CPUs the servers and the clients ran.
	Pinning string
	// CPUs, and the load average before and after the section.
	CPUs                  int
	LoadBefore, LoadAfter string
}

// AuthzScenario is one policy, request set and client count, measured on
// both sides in alternating rounds.
type AuthzScenario struct {
	Name    string
	Clients int
	// Embassy and Peer are the rounds of each side, merged.
	Embassy, Peer AuthzSide
	// Cache is embassy's decision cache after the rounds; nil when off.
	Cache *extauthz.CacheStats
	// Disagreements counts requests of the set the two sides decided
	// differently when each was asked once before the rounds.
	Disagreements int
}

// AuthzSide is one authorizer's calls with the CPU time its server
// process used for them (negative when unknown).
type AuthzSide struct {
	AuthzRow
	CPU time.Duration
}

// CPUPerCall is the server's CPU time per call, or negative when unknown.
func (s AuthzSide) CPUPerCall() time.Duration {
	if s.CPU < 0 || s.Calls == 0 {
		return -1
	}
	return s.CPU / time.Duration(s.Calls)
}

// authzPolicyCase is a policy with its data and request set.
type authzPolicyCase struct {
	policy string
	data   []byte
	reqs   []authzRequest
}

// MeasureAuthz measures, side by side in one run, embassy's Check server
// (policy/extauthz in a child process, gRPC on TCP loopback) and the peer
// (opa-envoy-plugin over gRPC on TCP loopback, or else the OPA server over
// HTTP), deciding the same policy over the same requests: the JWT-and-path
// policy without a cache at each client count, then the callers policy at
// the largest count without and with embassy's decision cache. Each
// scenario alternates the two sides for cfg.Rounds rounds. Every decision
// is compared with the reference decision of its request. Then it
// measures embassy's memory per loaded policy and the cost of revision
// swaps under load.
func MeasureAuthz(ctx context.Context, cfg AuthzConfig) (*AuthzReport, error) {
	cfg = authzDefaults(cfg)
	cfg.pin = pinCPUs(cfg.Pin)
	defer cfg.pin.unpin()
	rep := &AuthzReport{Rounds: cfg.Rounds, CPUs: runtime.NumCPU(), LoadBefore: loadAverage(), Pinning: cfg.pin.Note}
	jwtCase := authzPolicyCase{policy: authzPolicy, data: authzData, reqs: authzRequests(time.Now())}
	rep.Requests = len(jwtCase.reqs)
	for _, r := range jwtCase.reqs {
		if r.want {
			rep.Allowed++
		}
	}
	var err error
	modules := []resource.RegoModule{{Name: "policy.rego", Rego: authzPolicy}}
	if rep.RBAC, err = rbac.Compile(modules, authzData, "", compile.RegoV1); err != nil {
		return nil, fmt.Errorf("compiling the policy to RBAC: %w", err)
	}
	callers := authzPolicyCase{policy: callersPolicy, data: callersData(), reqs: callerRequests()}
	most := slices.Max(cfg.Clients)
	type scenario struct {
		name    string
		pc      authzPolicyCase
		clients int
		cache   int
	}
	var plan []scenario
	for _, n := range cfg.Clients {
		plan = append(plan, scenario{"JWT and path, no cache", jwtCase, n, 0})
	}
	plan = append(plan,
		scenario{fmt.Sprintf("%d callers and paths, no cache", callerCount), callers, most, 0},
		scenario{fmt.Sprintf("%d callers and paths, cache", callerCount), callers, most, cfg.CacheSize})
	for _, p := range plan {
		sc := AuthzScenario{Name: p.name, Clients: p.clients}
		child := authzChildConfig{Policy: p.pc.policy, Data: p.pc.data, CacheSize: p.cache}
		if cfg.CPUProfiles != "" {
			child.CPUProfile = fmt.Sprintf("%s-%d.prof", cfg.CPUProfiles, len(rep.Scenarios)+1)
		}
		err := runScenario(ctx, cfg, rep, &sc, p.pc, child)
		rep.Scenarios = append(rep.Scenarios, sc)
		if err != nil {
			return rep, fmt.Errorf("%s, %d clients: %w", p.name, p.clients, err)
		}
	}
	cfg.logf("memory per loaded policy and revision swaps under load...")
	rep.Footprint, err = measureFootprint(ctx, cfg, callers)
	rep.LoadAfter = loadAverage()
	return rep, err
}

func authzDefaults(cfg AuthzConfig) AuthzConfig {
	if cfg.Calls < 1 {
		cfg.Calls = 5000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Rounds < 1 {
		cfg.Rounds = 3
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []int{2, 8}
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = extauthz.DefaultCacheSize
	}
	return cfg
}

func (cfg AuthzConfig) logf(format string, args ...any) {
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "authz: "+format+"\n", args...)
	}
}

// runScenario starts both sides with the scenario's policy, checks their
// decisions against the request set, then alternates them for the
// rounds.
func runScenario(ctx context.Context, cfg AuthzConfig, rep *AuthzReport, sc *AuthzScenario, pc authzPolicyCase, child authzChildConfig) error {
	if cfg.Child == nil {
		return errors.New("no way to start embassy's Check server (AuthzConfig.Child)")
	}
	reqs := make([]*authv3.CheckRequest, len(pc.reqs))
	for i, r := range pc.reqs {
		reqs[i] = r.req
	}
	emb, err := startEmbassy(ctx, cfg.pin.wrap(cfg.Child()), child, reqs[0])
	if err != nil {
		return fmt.Errorf("embassy's Check server: %w", err)
	}
	defer emb.Stop()
	embassy := checkDecider(emb.Addr, reqs)
	ref, err := decideAll(ctx, embassy, len(reqs))
	if err != nil {
		return fmt.Errorf("embassy: %w", err)
	}
	for i, r := range pc.reqs {
		if ref[i] != r.want {
			return fmt.Errorf("embassy decided allow=%t for %q, which the policy means to be allow=%t", ref[i], r.name, r.want)
		}
	}
	if child.CacheSize > 0 {
		// Measure the cache in its steady state, not the analysis the
		// first Check starts.
		if err := waitCacheReady(emb.CacheStats); err != nil {
			return err
		}
	}
	peer, peerCPU, stop, err := startPeerSide(ctx, cfg, rep, pc, reqs)
	if err != nil {
		return err
	}
	defer stop()
	if peer != nil {
		theirs, err := decideAll(ctx, peer, len(reqs))
		if err != nil {
			return fmt.Errorf("%s: %w", rep.PeerName, err)
		}
		for i := range reqs {
			if theirs[i] != ref[i] {
				sc.Disagreements++
				cfg.logf("embassy and the peer disagree on %q: allow=%t and allow=%t", pc.reqs[i].name, ref[i], theirs[i])
			}
		}
	}
	sc.Embassy.Name, sc.Peer.Name = "embassy", rep.PeerName
	sides := []func() error{
		func() error { return measureSide(ctx, cfg, sc.Clients, ref, embassy, emb.CPU, &sc.Embassy) },
	}
	if peer != nil {
		sides = append(sides, func() error { return measureSide(ctx, cfg, sc.Clients, ref, peer, peerCPU, &sc.Peer) })
	}
	if err := alternate(cfg, sc, sides); err != nil {
		return err
	}
	if child.CacheSize > 0 {
		if sc.Cache, err = emb.CacheStats(); err != nil {
			return err
		}
	}
	return nil
}

// alternate runs the sides for cfg.Rounds rounds, reversing their order
// every other round, so neither always runs on a machine the other just
// warmed or loaded.
func alternate(cfg AuthzConfig, sc *AuthzScenario, sides []func() error) error {
	for round := range cfg.Rounds {
		cfg.logf("%s, %d clients, round %d of %d...", sc.Name, sc.Clients, round+1, cfg.Rounds)
		for _, side := range sides {
			if err := side(); err != nil {
				return err
			}
		}
		slices.Reverse(sides)
	}
	return nil
}

// measureSide runs one round of one side and adds it, with the CPU time
// its server used, to side.
func measureSide(ctx context.Context, cfg AuthzConfig, clients int, ref []bool, open newDecider, cpu func() time.Duration, side *AuthzSide) error {
	before := cpu()
	row, err := load(ctx, side.Name, clients, cfg.Calls, cfg.Duration, ref, open)
	after := cpu()
	side.add(row)
	if before < 0 || after < 0 || side.CPU < 0 {
		side.CPU = -1
	} else {
		side.CPU += after - before
	}
	return err
}

// startPeerSide starts what embassy is compared with for pc: the
// opa-envoy-plugin when cfg.Peer names it, else the OPA server; it
// returns a nil decider when neither can run, with the reason in
// rep.PeerSkipped.
func startPeerSide(ctx context.Context, cfg AuthzConfig, rep *AuthzReport, pc authzPolicyCase, reqs []*authv3.CheckRequest) (newDecider, func() time.Duration, func(), error) {
	noCPU := func() time.Duration { return -1 }
	switch {
	case cfg.Peer != "":
		p, err := startPeer(ctx, cfg.pin, cfg.Peer, cfg.PeerJWTCache, pc.policy, pc.data, reqs[0])
		if err != nil {
			return nil, nil, nil, fmt.Errorf("the peer %s: %w", cfg.Peer, err)
		}
		rep.PeerName = "opa-envoy-plugin " + p.Version + " (gRPC, TCP loopback)"
		if cfg.PeerJWTCache {
			rep.PeerName += " with OPA's verified-token cache on, as embassy runs"
		} else {
			rep.PeerName += " with its defaults (OPA's verified-token cache off; embassy runs with it on)"
		}
		return checkDecider(p.Addr, reqs), p.CPU, p.Stop, nil
	case cfg.opaURL != "" || cfg.OPA != "":
		bodies, err := opaBodies(pc.reqs)
		if err != nil {
			return nil, nil, nil, err
		}
		if cfg.opaURL != "" {
			rep.PeerName = "OPA-compatible test server (HTTP)"
			return httpDecider(cfg.opaURL+opaDecisionPath, bodies), noCPU, func() {}, nil
		}
		srv, err := startOPA(ctx, cfg.pin, cfg.OPA, pc.policy, pc.data)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("the OPA server: %w", err)
		}
		rep.PeerName = "OPA server " + srv.Version + " (HTTP, loopback; no --authz-peer given)"
		return httpDecider(srv.URL+opaDecisionPath, bodies), srv.CPU, srv.Stop, nil
	}
	rep.PeerSkipped = cfg.OPASkipped
	if rep.PeerSkipped == "" {
		rep.PeerSkipped = "no --authz-peer and no opa binary were given"
	}
	return nil, noCPU, func() {}, nil
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
