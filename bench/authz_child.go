package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// authzChildConfig is what a parent asks its Check server child to serve.
type authzChildConfig struct {
	Policy    string          `json:"policy"`
	Data      json.RawMessage `json:"data"`
	CacheSize int             `json:"cacheSize"`
	// CPUProfile, when set, is the file the child writes its CPU profile
	// to, from when it serves until it ends.
	CPUProfile string `json:"cpuProfile,omitempty"`
}

// authzChildReport is each line the child writes: first where it serves,
// then, for each line the parent writes, its decision cache's stats.
type authzChildReport struct {
	Addr  string               `json:"addr,omitempty"`
	Cache *extauthz.CacheStats `json:"cache,omitempty"`
	Err   string               `json:"err,omitempty"`
}

// ServeAuthzChild serves embassy's Check for a parent embassy-bench, in a
// process of its own so that its CPU time is measured apart from the
// clients': it reads an authzChildConfig line from in, serves the policy
// on a loopback TCP port as the agent does (one engine, one
// extauthz.Server, decision logs as JSON, here discarded), writes the
// address, then answers every further line with its cache's stats, until
// in ends or ctx does.
func ServeAuthzChild(ctx context.Context, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	if !sc.Scan() {
		return errors.New("no configuration on stdin")
	}
	var cfg authzChildConfig
	if err := json.Unmarshal(sc.Bytes(), &cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	srv, lis, err := serveChildPolicy(cfg)
	if err != nil {
		enc.Encode(authzChildReport{Err: err.Error()})
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			enc.Encode(authzChildReport{Err: err.Error()})
			return err
		}
		defer stop()
	}
	if err := enc.Encode(authzChildReport{Addr: lis.Addr().String()}); err != nil {
		return err
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- struct{}{}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-lines:
			if !ok {
				return nil
			}
			if err := enc.Encode(authzChildReport{Cache: srv.CacheStats()}); err != nil {
				return err
			}
		}
	}
}

func serveChildPolicy(cfg authzChildConfig) (*extauthz.Server, net.Listener, error) {
	b, err := compile.Compile("bench/policy", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "policy.rego", Rego: cfg.Policy}}, Data: cfg.Data,
	})
	if err != nil {
		return nil, nil, err
	}
	srv := extauthz.New(engine.New(), extauthz.Options{DecisionLog: agentDecisionLog(), CacheSize: cfg.CacheSize})
	if err := srv.Load(b); err != nil {
		return nil, nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	return srv, lis, nil
}

// agentDecisionLog is the decision log of an agent run with --log-json
// and its default sample, writing to io.Discard as the peer writes none;
// it lives as long as the process.
func agentDecisionLog() *extauthz.DecisionLog {
	logger := hclog.New(&hclog.LoggerOptions{Name: "authz", JSONFormat: true, Output: io.Discard, Level: hclog.Info})
	return extauthz.NewDecisionLogJSON(logger, io.Discard, nil, extauthz.DefaultDecisionLogSample)
}

// startCPUProfile profiles this process into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// embassyServer is a Check server child of this process.
type embassyServer struct {
	grpcServer
	in  io.WriteCloser
	out *bufio.Scanner
}

// startEmbassy starts the child cmd (a binary that runs
// ServeAuthzChild), has it serve cfg and waits until it decides probe.
func startEmbassy(ctx context.Context, cmd *exec.Cmd, cfg authzChildConfig, probe *authv3.CheckRequest) (*embassyServer, error) {
	in, outPipe, err := pipes(cmd)
	if err != nil {
		return nil, err
	}
	proc := &serverProc{cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = proc.stderr
	if err := proc.start(); err != nil {
		return nil, err
	}
	s := &embassyServer{grpcServer: grpcServer{serverProc: proc, Version: "this tree"}, in: in, out: bufio.NewScanner(outPipe)}
	if err := s.start(ctx, cfg, probe); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *embassyServer) start(ctx context.Context, cfg authzChildConfig, probe *authv3.CheckRequest) error {
	line, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if _, err := s.in.Write(append(line, '\n')); err != nil {
		return err
	}
	r, err := s.read(30 * time.Second)
	if err != nil {
		return err
	}
	s.Addr = r.Addr
	return s.waitCheck(ctx, probe)
}

// read reads one report, waiting at most within.
func (s *embassyServer) read(within time.Duration) (authzChildReport, error) {
	got := make(chan error, 1)
	var r authzChildReport
	go func() {
		if !s.out.Scan() {
			got <- fmt.Errorf("the Check server child ended: %v %s", s.out.Err(), s.stderr.String())
			return
		}
		got <- json.Unmarshal(s.out.Bytes(), &r)
	}()
	select {
	case err := <-got:
		if err == nil && r.Err != "" {
			err = errors.New(r.Err)
		}
		return r, err
	case <-time.After(within):
		return r, fmt.Errorf("the Check server child said nothing within %v", within)
	}
}

// CacheStats asks the child for its decision cache's stats.
func (s *embassyServer) CacheStats() (*extauthz.CacheStats, error) {
	if _, err := s.in.Write([]byte("stats\n")); err != nil {
		return nil, err
	}
	r, err := s.read(10 * time.Second)
	return r.Cache, err
}

// Stop closes the child's stdin, which ends it once it has written what
// it keeps till the end (its CPU profile), and waits up to twenty seconds for
// that before stopping it as any server process.
func (s *embassyServer) Stop() {
	s.in.Close()
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
	}
	s.serverProc.Stop()
}
