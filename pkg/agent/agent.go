package agent

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// Config configures an Agent.
type Config struct {
	// SocketDir holds the sockets and the PEM files (created 0750).
	SocketDir string
	// Dial connects to embassy-cp's identity service; the agent opens a
	// new connection after attesting and after every rotation, so the
	// control plane always sees the current SVID. TrustBundle verifies the
	// control plane until the first SVID brings the current roots.
	Dial        DialFunc
	TrustBundle []*x509.Certificate
	// ControlPlane, instead of Dial, is used as it is (tests).
	ControlPlane ControlPlane
	// Token is the join token; TokenFile, when set, is read for it instead,
	// at the first attestation and again whenever the SVID can no longer
	// be renewed (see ManagerConfig). Both are unused with SPIFFESocket.
	// At start the agent resumes from the PEM files in SocketDir when they
	// hold a valid SVID (see LoadPEMFiles), without presenting the token.
	Token     string
	TokenFile string
	// KubernetesToken says TokenFile holds the Pod's projected
	// service-account token (which the kubelet refreshes) rather than a
	// join token; it is presented the same way.
	KubernetesToken bool
	// SPIFFESocket, when set, is the unix socket of a SPIFFE Workload API
	// (a SPIRE agent's) the SVIDs and bundle come from, instead of
	// attesting and renewing with the control plane (see ManagerConfig).
	// The control plane is then verified by TrustBundle only, since the
	// roots served to the workload are that Workload API's.
	SPIFFESocket string
	// Workload is NAME.NAMESPACE; NAME is the registered Workload's name.
	Workload string
	// Spec is registered every RegisterInterval (default 10s).
	Spec             resource.WorkloadSpec
	RegisterInterval time.Duration
	// Logger defaults to a null logger; Out receives progress lines.
	Logger hclog.Logger
	Out    io.Writer
	// MinBackoff, MaxBackoff, BundleInterval and CallTimeout tune the
	// Manager (see ManagerConfig).
	MinBackoff, MaxBackoff, BundleInterval, CallTimeout time.Duration
	// Authz, when set, enforces the control plane's authorization policies
	// on authz.sock (see AuthzConfig).
	Authz *AuthzConfig
	// XDSRelay, when set, relays the workload's proxyless gRPC xDS to the
	// control plane on xds.sock (see XDSRelay).
	XDSRelay *XDSRelayConfig
}

// Agent is embassy-agent's identity side: the Manager, with the SDS
// server, the SPIFFE Workload API and the PEM files as its subscribers,
// and the Registrar.
type Agent struct {
	cfg  Config
	name string
	log  hclog.Logger
	mgr  *Manager
	sds  *SDS
	wl   *WorkloadAPI
	// serving is closed once both sockets accept connections.
	serving chan struct{}
	redial  *redialer // nil when Config.ControlPlane was given
	authz   *Authz    // nil without Config.Authz
}

// New checks cfg and builds an Agent; nothing runs until Run.
func New(cfg Config) (*Agent, error) {
	name, _, err := dataplane.ParseNodeID(cfg.Workload)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	if cfg.SocketDir == "" {
		return nil, errors.New("the socket directory is not set")
	}
	if cfg.ControlPlane == nil && cfg.Dial == nil {
		return nil, errors.New("no control plane: set Dial")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	a := &Agent{cfg: cfg, name: name, log: cfg.Logger, serving: make(chan struct{})}
	if cfg.Authz != nil {
		if err := a.newAuthz(cfg.Authz); err != nil {
			return nil, err
		}
	}
	if r := cfg.XDSRelay; r != nil && r.Dial == nil && r.XDSAddress == "" {
		return nil, errors.New("xDS relay: no control plane xDS address")
	}
	if cfg.ControlPlane == nil {
		a.redial = &redialer{dial: cfg.Dial, seed: cfg.TrustBundle, grace: cmp.Or(cfg.CallTimeout, DefaultCallTimeout),
			withSeed: cfg.SPIFFESocket != "", current: func() *Identity { return a.mgr.Current() }}
		cfg.ControlPlane = a.redial
		a.cfg.ControlPlane = a.redial
	}
	mcfg := ManagerConfig{
		ControlPlane:    cfg.ControlPlane,
		Token:           cfg.Token,
		TokenFile:       cfg.TokenFile,
		KubernetesToken: cfg.KubernetesToken,
		Workload:        name,
		Logger:          cfg.Logger.Named("svid"),
		Out:             cfg.Out,
		MinBackoff:      cfg.MinBackoff,
		MaxBackoff:      cfg.MaxBackoff,
		BundleInterval:  cfg.BundleInterval,
		CallTimeout:     cfg.CallTimeout,
		SPIFFESocket:    cfg.SPIFFESocket,
	}
	if cfg.SPIFFESocket == "" {
		mcfg.ResumeDir, mcfg.TrustBundle = cfg.SocketDir, cfg.TrustBundle
		if a.redial != nil {
			mcfg.ControlPlane = attestDialer{a.redial}
		}
	}
	a.mgr = NewManager(mcfg)
	a.sds = NewSDS(cfg.Logger.Named("sds"))
	// JWT-SVIDs come from where the X.509-SVIDs do.
	var minter JWTMinter = cfg.ControlPlane
	if cfg.SPIFFESocket != "" {
		minter = SPIFFEJWTMinter{Socket: cfg.SPIFFESocket, Current: func() spiffeid.ID { return a.mgr.Current().ID }}
	}
	a.wl = NewWorkloadAPI(a.mgr, minter, cfg.Logger.Named("workloadapi"))
	// The files and SDS change only with the SVID or the roots, not with
	// the JWT keys, so readers are not woken for nothing.
	var last *Identity
	a.mgr.OnUpdate(func(id *Identity) {
		if last != nil && last.SVID == id.SVID && sameCerts(last.Roots, id.Roots) {
			return
		}
		last = id
		if err := WritePEMFiles(cfg.SocketDir, id); err != nil {
			a.log.Error("writing the PEM files failed", "dir", cfg.SocketDir, "error", err)
		}
		if err := a.sds.Update(id); err != nil {
			a.log.Error("updating SDS failed", "error", err)
		}
	})
	return a, nil
}

// Manager returns the agent's SVID manager, for OnUpdate subscribers and
// for the client certificate of the control plane's client.
func (a *Agent) Manager() *Manager { return a.mgr }

// Serving is closed once the agent has an SVID and both sockets accept
// connections.
func (a *Agent) Serving() <-chan struct{} { return a.serving }

// Run attests (or resumes from the PEM files of a previous run), then
// serves SDS and the Workload API on their sockets, keeps the PEM files
// current and the workload registered, until ctx is done; then it
// deregisters, stops serving and removes the sockets. It returns an error
// when attestation is refused or a socket cannot be opened.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.cfg.SocketDir, 0o750); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	// The manager outlives ctx by the deregistration, which needs the SVID.
	// Run returns only once it has stopped, so no PEM file is half written
	// when it does: a restarted agent reads a key and a chain that pair.
	mctx, stopManager := context.WithCancel(context.Background())
	merr, mdone := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(mdone)
		merr <- a.mgr.Run(mctx)
	}()
	defer func() { stopManager(); <-mdone }()
	if a.redial != nil {
		defer a.redial.Close()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-merr:
		return err
	case <-a.mgr.Ready():
	}
	if err := checkNamespace(a.cfg.Workload, a.mgr.Current().ID); err != nil {
		return err
	}

	sdsServer, wlServer := grpc.NewServer(), grpc.NewServer()
	a.sds.Register(sdsServer)
	a.wl.Register(wlServer)
	defer a.sds.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, s := range []struct {
		name string
		g    *grpc.Server
	}{{dataplane.SDSSocket, sdsServer}, {dataplane.WorkloadSocket, wlServer}} {
		lis, err := listenUnix(filepath.Join(a.cfg.SocketDir, s.name))
		if err != nil {
			sdsServer.Stop()
			wlServer.Stop()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.g.Serve(lis); err != nil {
				a.log.Error("serving stopped", "socket", s.name, "error", err)
			}
		}()
		defer os.Remove(lis.Addr().String())
		defer s.g.Stop()
	}
	if a.authz != nil {
		stopAuthz, err := a.startAuthz(ctx)
		if err != nil {
			return err
		}
		defer stopAuthz()
	}
	if a.cfg.XDSRelay != nil {
		stopRelay, err := a.startXDSRelay(ctx)
		if err != nil {
			return err
		}
		defer stopRelay()
	}
	close(a.serving)
	fmt.Fprintf(a.cfg.Out, "embassy-agent: serving SDS on %s, the Workload API on %s and PEM files in %s\n",
		filepath.Join(a.cfg.SocketDir, dataplane.SDSSocket), filepath.Join(a.cfg.SocketDir, dataplane.WorkloadSocket), a.cfg.SocketDir)

	rctx, stopRegistrar := context.WithCancel(ctx)
	defer stopRegistrar()
	registered := make(chan error, 1)
	go func() { registered <- a.register(rctx) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-merr:
	case err = <-registered:
		registered = nil
	}
	stopRegistrar()
	if registered != nil {
		<-registered
	}
	return err
}

// register keeps the workload registered until ctx is done (see
// Registrar.Run). A workload that backs no service has nothing to
// register, since a Workload names at least one: it only waits.
func (a *Agent) register(ctx context.Context) error {
	if len(a.cfg.Spec.Services) == 0 {
		a.log.Info("the workload backs no service (no --service), so it is not registered as a Workload", "workload", a.name)
		<-ctx.Done()
		return nil
	}
	return (&Registrar{
		ControlPlane: a.cfg.ControlPlane, Name: a.name, Spec: a.cfg.Spec,
		Interval: a.cfg.RegisterInterval, CallTimeout: a.cfg.CallTimeout,
		Logger: a.log.Named("register"), Identities: a.mgr,
	}).Run(ctx)
}

// listenUnix listens on a unix socket at path, replacing a stale socket
// left by an agent that did not stop cleanly, and opens it to the group.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}
