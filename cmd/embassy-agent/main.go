// Command embassy-agent runs beside one workload. It proves the workload's
// identity to embassy-cp with a join token, keeps its X.509-SVID fresh (the
// key never leaves the node), and hands it out locally: Envoy SDS and the
// SPIFFE Workload API on unix sockets, and PEM files for proxyless gRPC.
// It enforces the workload's AuthorizationPolicies, streamed from
// embassy-cp, as Envoy's ext_authz server on authz.sock. It registers the
// workload, writes the Envoy bootstrap and, with --envoy-bin, starts Envoy
// and restarts it if it exits.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/agent"
	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/client"
	elog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/policy/extauthz"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "embassy-agent:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	cp, tokenFile, bundleFile, workload, socketDir string
	bootPath, envoyBin, adminAddr, logLevel        string
	authzAddr, spireSocket, k8sTokenFile           string
	authzLogHeaders                                []string
	authzTimeout                                   time.Duration
	authzCacheSize, relayStreams                   int
	xdsRelay                                       bool
	decisionLogSample                              float64
	logJSON                                        bool
	w                                              workloadFlags
}

func newRootCmd() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "embassy-agent --cp ADDR --token-file FILE --trust-bundle FILE --workload NAME.NAMESPACE [flags]",
		Short: "Per-workload agent: identity (SDS, SPIFFE Workload API, PEM files), registration, Envoy",
		Long: `embassy-agent runs on the workload's node, one per workload.

Identity. It makes a P-256 key locally and presents the join token from
--token-file, with a CSR, to embassy-cp (verified by --trust-bundle and its
SPIFFE ID spiffe://<trust-domain>/ns/embassy-system/sa/embassy-cp). The
SVID it gets back is renewed at half its lifetime with a new key, over mTLS.
If embassy-cp is unreachable the current SVID is served until it expires,
then withheld, and the agent keeps retrying (1s..30s backoff). The key is
never sent anywhere and never logged; nor is the token.

Restarts. A restarted agent starts from the SVID in --socket-dir when it is
still valid (its chain verifies against bundle.pem there or --trust-bundle,
and svid-key.pem is its key): it serves it and renews it at once, without
presenting the token, so a single-use token is not needed again. If
embassy-cp refuses to renew it, or the files are missing, expired or
broken, the agent attests with the token from --token-file as on a first
start.

Recovery. embassy-cp renews only a valid SVID, so once the SVID has expired
(embassy-cp was unreachable for its whole lifetime) or embassy-cp refuses to
renew it, the agent says once which file to write a new token to, with the
embassyctl command that makes it. It reads --token-file again every second
and re-attests as soon as the file holds a token embassy-cp accepts, with
backoff while embassy-cp is unreachable; a refused token is presented again
only after the file changes, or every 30s. The new SVID must be for the
SPIFFE ID the agent had: a token for another identity is refused.

With --spire-socket (a Mesh with ca: {type: spire}) the agent neither
attests nor renews: it takes the SVIDs and bundle from the SPIFFE Workload
API on that unix socket (a SPIRE agent's), follows its rotations and serves
them below like its own; --token-file is not needed. SPIRE must issue the
workload an ID of the form spiffe://<trust-domain>/ns/<namespace>/sa/<sa>.
embassy-cp then presents an SVID from SPIRE too, so the agent verifies it
against SPIRE's bundle (and --trust-bundle, when given), and the SVID is the
client certificate of every call to it (registration, JWT-SVIDs, policies).

On Kubernetes (embassy-cp --kubernetes) the agent attests with its Pod's
projected service-account token instead of a join token: --k8s-token-file
names the file of a serviceAccountToken volume with audience embassy-cp.
embassy-cp verifies it with the API server (TokenReview), checks that the
Pod it is bound to still exists, and issues the SVID of the Pod's service
account; --workload must be POD.NAMESPACE. The file is read again at each
attestation, so the kubelet's refreshed token is used.

What it serves, in --socket-dir (created 0750):
  sds.sock       Envoy SDS: secrets "default" (chain and key) and "ROOTCA"
  workload.sock  the SPIFFE Workload API (X.509- and JWT-SVIDs, bundles);
                 clients must send the header workload.spiffe.io: true
  svid.pem       the SVID chain, leaf first      } rewritten atomically on
  svid-key.pem   its key (mode 0600)             } every rotation, key
  bundle.pem     the trust domain's roots        } first (proxyless gRPC)
  authz.sock     Envoy ext_authz (envoy.service.auth.v3.Authorization)
  authz-stats.json  decisions per policy, and the revision each enforces
  xds.sock       the xDS relay for proxyless gRPC (--xds-relay)
The sockets are mode 0660: run Envoy and the application in the agent's
group.

xDS relay. With --xds-relay (on by default) the agent serves ADS (SotW
and Delta) on xds.sock and carries each stream of the workload's proxyless
gRPC, unchanged, to the control plane over its own channel to --cp: mTLS
with the workload's SVID, failing over between the replicas listed. gRPC's
own xDS client keeps a configuration it has and stays on a dead replica,
so without the relay a change reaches it only once that replica is back;
through the relay its stream ends (Unavailable) when the replica dies and
its reconnection reaches the next. Point the application at it with
embassyctl bootstrap grpc --xds-relay SOCKETDIR. It is on by default since
it costs one idle socket and opens nothing new: the agent's group can
already take the workload's SVID from workload.sock. It relays requests
for the workload's node id (--workload) only, at most
--xds-relay-max-streams streams at once; --xds-relay=false turns it off.

Registration. Every 10s it registers the Workload NAME (from --workload) with
--address, --service, --port, --label and the locality flags; embassy-cp takes
the namespace and service account from the certificate and drops the
registration 30s after the last refresh. On SIGTERM or Ctrl-C the agent
deregisters it, then exits. Without --service the workload backs no service
and is not registered. A Workload NAME that an operator applied is served as
applied: the agent says so once and does not register it.

Failing fast. A join token embassy-cp refuses, an SVID of another namespace
than --workload names, or a first registration embassy-cp refuses as not
allowed or not valid stops the agent with one error saying what to fix and
exit code 1; an unreachable embassy-cp is retried.

Authorization. The agent streams the AuthorizationPolicies that target the
workload from embassy-cp (mTLS with its SVID), loads each into OPA, ACKs
each revision it loaded and NACKs, with the reason, one that fails (the last
good revision keeps enforcing). It serves Envoy's ext_authz Check on
authz.sock (and on --authz-addr 127.0.0.1:PORT): a request passes only when
every policy allows it; dry-run policies log would-deny and never deny. With
no policy targeting the workload every request passes; until embassy-cp has
sent the set of policies of this workload (possibly empty), and for a policy
none of whose revisions loaded, requests are denied. A Check whose policies
have not decided within --authz-timeout is denied (fail closed, whatever
the policy's failure mode; dry-run policies log would-deny) and the
evaluation is stopped. Each denial, would-deny and error is one structured
line of the "authz" logger (JSON with --log-json), with its reason, and so
is the --decision-log-sample share of allows (default 0.01, one in a
hundred, so routine allows do not crowd denials out of the log; 1: every
one, 0: none); header values are redacted except those named by
--authz-log-header-values. Lines
are written off the Check path: when the log falls 4096 lines behind, new
ones are dropped and counted (decisionLogsDropped), and below --log-level
info none is built. The counts per policy are rewritten to
authz-stats.json every 10s. A policy that calls no time,
random or network builtin has its decisions cached per revision
(--authz-cache-size each), keyed on the input fields it reads;
authz-stats.json shows hits and misses.

Envoy. With --envoy-bootstrap it writes the sidecar's bootstrap (node id
NAME.NAMESPACE, mTLS ADS to --cp, certificates from sds.sock, admin API on
envoy-admin.sock in --socket-dir) once attested; with --envoy-bin it then
starts Envoy and restarts it, with backoff, whenever it exits. Envoy listens
on --address at each --port and forwards to the app at 127.0.0.1:APPPORT,
so with --address 127.0.0.1 every port needs an APPPORT of its own (the
agent refuses one Envoy would share with an app).`,
		Example: `  # A sidecar's agent: identity, registration and Envoy
  embassyctl token create --namespace shop --service-account web --workload web-1 > web-1.token
  embassyctl bundle > bundle.pem
  embassy-agent --cp 10.0.0.2:15010 --token-file web-1.token --trust-bundle bundle.pem \
    --workload web-1.shop --socket-dir /run/embassy --address 10.0.0.7 \
    --service web --port http=8080:9090 --label version=v1 --region eu --zone eu-1a \
    --envoy-bootstrap /run/embassy/envoy.yaml --envoy-bin /usr/local/bin/envoy

  # A proxyless gRPC server: certificates as files only
  embassy-agent --cp 10.0.0.2:15010 --token-file echo.token --trust-bundle bundle.pem \
    --workload echo-1.default --socket-dir /run/embassy --address 10.0.0.8 --service echo --port grpc=50051`,
		SilenceUsage: true,
		// main prints the error, once.
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cp, "cp", dataplane.DefaultXDSAddress, "embassy-cp's xDS address (host:port), or every replica's, comma-separated: the agent fails over between them in order, and lists them all in the Envoy bootstrap it writes; the identity service shares it")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the join token (emb1.<id>.<secret>); read again to re-attest when the SVID cannot be renewed")
	f.StringVar(&o.k8sTokenFile, "k8s-token-file", "", "on Kubernetes, attest with the Pod's projected service-account token (audience "+dataplane.KubernetesTokenAudience+") in this file instead of a join token")
	f.StringVar(&o.bundleFile, "trust-bundle", "", "PEM roots to verify embassy-cp by (embassyctl bundle > FILE)")
	f.StringVar(&o.spireSocket, "spire-socket", "", "take the SVIDs from the SPIFFE Workload API on this unix socket (a SPIRE agent's) instead of attesting with embassy-cp")
	f.StringVar(&o.workload, "workload", "", "this workload as NAME.NAMESPACE (the sidecar's node id)")
	f.StringVar(&o.socketDir, "socket-dir", "", "directory for sds.sock, workload.sock and the PEM files (default "+dataplane.SocketDir("<workload>")+", one per workload)")
	f.StringVar(&o.w.address, "address", "", "the IP the workload receives mesh traffic on")
	f.StringArrayVar(&o.w.services, "service", nil, "a service this workload backs (repeatable)")
	f.StringArrayVar(&o.w.ports, "port", nil, "a service port as NAME=PORT[:APPPORT] (repeatable); APPPORT is the app's port behind Envoy")
	f.StringArrayVar(&o.w.labels, "label", nil, "a workload label as KEY=VALUE (repeatable)")
	f.StringVar(&o.w.region, "region", "", "locality: region")
	f.StringVar(&o.w.zone, "zone", "", "locality: zone")
	f.StringVar(&o.w.subZone, "subzone", "", "locality: sub-zone")
	f.StringVar(&o.bootPath, "envoy-bootstrap", "", "write the Envoy bootstrap here once attested")
	f.StringVar(&o.envoyBin, "envoy-bin", "", "start and supervise this envoy binary with the bootstrap (needs --envoy-bootstrap)")
	f.StringVar(&o.adminAddr, "envoy-admin", "", "Envoy's admin address, loopback ip:port (default the unix socket "+bootstrap.AdminSocket+" in --socket-dir)")
	f.StringVar(&o.authzAddr, "authz-addr", "", "also serve ext_authz Check on this loopback address (127.0.0.1:PORT)")
	f.DurationVar(&o.authzTimeout, "authz-timeout", extauthz.DefaultTimeout, "deny a Check whose policies have not decided within this time, and stop their evaluation (keep it below Envoy's 200ms ext_authz timeout)")
	f.IntVar(&o.authzCacheSize, "authz-cache-size", extauthz.DefaultCacheSize, "decisions cached per policy revision, for deterministic policies only; 0 turns the cache off")
	f.StringSliceVar(&o.authzLogHeaders, "authz-log-header-values", nil, "request headers whose values decision logs show (comma-separated); others are redacted")
	f.Float64Var(&o.decisionLogSample, "decision-log-sample", extauthz.DefaultDecisionLogSample, "share of allowed decisions logged, from 0 (none) to 1 (all); denials and errors are always logged")
	f.BoolVar(&o.xdsRelay, "xds-relay", true, "relay the workload's proxyless gRPC xDS to --cp on xds.sock in --socket-dir, failing over between replicas (on by default: one idle socket, nothing the agent's group cannot already get)")
	f.IntVar(&o.relayStreams, "xds-relay-max-streams", agent.DefaultXDSRelayStreams, "xDS streams the relay carries at once; more are refused (ResourceExhausted)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	f.BoolVar(&o.logJSON, "log-json", false, "log one JSON object per line")
	return cmd
}

// readToken reads the token the agent attests with, and names its flag.
func (o options) readToken() (flag string, err error) {
	if o.k8sTokenFile != "" {
		_, err = agent.ReadServiceAccountToken(o.k8sTokenFile)
		return "--k8s-token-file", err
	}
	_, err = agent.ReadTokenFile(o.tokenFile)
	return "--token-file", err
}

// resumable says whether the socket dir holds a valid SVID of a previous
// run that the agent can resume from.
func resumable(o options) bool {
	var roots []*x509.Certificate
	if o.bundleFile != "" {
		roots, _ = readBundle(o.bundleFile)
	}
	_, _, err := agent.LoadPEMFiles(o.socketDir, roots, time.Now())
	return err == nil
}

// run starts the agent and, once it serves, the Envoy side; it returns
// when ctx ends (after deregistering) or the agent fails.
func run(ctx context.Context, cmd *cobra.Command, o options) error {
	switch {
	case o.workload == "":
		return errors.New("--workload is required (see --help)")
	case o.bundleFile == "" && o.spireSocket == "":
		return errors.New("--trust-bundle is required unless the SVIDs come from --spire-socket (see --help)")
	case o.tokenFile != "" && o.k8sTokenFile != "":
		return errors.New("--token-file and --k8s-token-file are two ways to attest: give one")
	case o.tokenFile == "" && o.k8sTokenFile == "" && o.spireSocket == "":
		return errors.New("--token-file (or --k8s-token-file on Kubernetes) is required unless the SVIDs come from --spire-socket (see --help)")
	case o.envoyBin != "" && o.bootPath == "":
		return errors.New("--envoy-bin needs --envoy-bootstrap: Envoy is started with that file")
	case o.authzTimeout <= 0:
		return fmt.Errorf("--authz-timeout %s: want a positive duration such as %s", o.authzTimeout, extauthz.DefaultTimeout)
	case o.authzCacheSize < 0:
		return fmt.Errorf("--authz-cache-size %d: want 0 (no cache) or a positive number of decisions such as %d", o.authzCacheSize, extauthz.DefaultCacheSize)
	case o.relayStreams <= 0:
		return fmt.Errorf("--xds-relay-max-streams %d: want a positive number of streams such as %d (--xds-relay=false turns the relay off)", o.relayStreams, agent.DefaultXDSRelayStreams)
	case !(o.decisionLogSample >= 0 && o.decisionLogSample <= 1):
		return fmt.Errorf("--decision-log-sample %v: want a share from 0 (log no allow) to 1 (log every allow), such as 0.01", o.decisionLogSample)
	}
	if o.socketDir == "" {
		o.socketDir = dataplane.SocketDir(o.workload)
	}
	spec, err := o.w.spec()
	if err != nil {
		return err
	}
	if o.bootPath != "" {
		if err := sidecarSafe(spec); err != nil {
			return err
		}
	}
	// The token is read again whenever the agent attests; reading it now
	// refuses a missing or malformed file at once, unless the agent can
	// resume from the SVID of its previous run and needs no token.
	if o.spireSocket == "" {
		if flag, err := o.readToken(); err != nil {
			if !resumable(o) {
				return fmt.Errorf("%s: %w", flag, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "embassy-agent: %s: %v; resuming from the SVID in %s (a token is needed again only if it cannot be renewed)\n", flag, err, o.socketDir)
		}
	}
	var roots []*x509.Certificate
	if o.bundleFile != "" {
		if roots, err = readBundle(o.bundleFile); err != nil {
			return err
		}
	}
	logOut := &lineWriter{w: os.Stderr}
	log := elog.New("embassy-agent", elog.Options{Level: o.logLevel, JSON: o.logJSON, Output: logOut}).Named(elog.Agent)
	var decisionsJSON io.Writer
	if o.logJSON {
		decisionsJSON = logOut
	}
	out := cmd.OutOrStdout()
	var relay *agent.XDSRelayConfig
	if o.xdsRelay {
		relay = &agent.XDSRelayConfig{XDSAddress: o.cp, MaxStreams: o.relayStreams}
	}
	a, err := agent.New(agent.Config{
		SocketDir: o.socketDir,
		Dial: func(roots []*x509.Certificate, cert func() *tls.Certificate) (agent.ControlPlaneConn, error) {
			return client.Dial(o.cp, roots, cert)
		},
		TrustBundle:     roots,
		TokenFile:       cmp.Or(o.tokenFile, o.k8sTokenFile),
		KubernetesToken: o.k8sTokenFile != "",
		SPIFFESocket:    o.spireSocket,
		Workload:        o.workload,
		Spec:            spec,
		Logger:          log,
		Out:             out,
		Authz: &agent.AuthzConfig{
			XDSAddress: o.cp, LoopbackAddr: o.authzAddr, LogHeaderValues: o.authzLogHeaders, CheckTimeout: o.authzTimeout,
			DecisionCacheSize: o.authzCacheSize,
			DecisionLogSample: o.decisionLogSample, DecisionLogJSON: decisionsJSON,
		},
		XDSRelay: relay,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-a.Serving():
	}
	envoyDone := make(chan error, 1)
	if o.bootPath != "" {
		bo := bootstrap.EnvoyOptions{
			NodeID: o.workload, XDSAddress: o.cp, AdminAddress: o.adminAddr,
			SocketDir: o.socketDir, TrustDomain: a.Manager().Current().ID.TrustDomain().Name(),
		}
		if err := agent.WriteEnvoyBootstrap(o.bootPath, bo); err != nil {
			cancel()
			<-done
			return err
		}
		fmt.Fprintf(out, "embassy-agent: wrote the Envoy bootstrap of %s to %s\n", o.workload, o.bootPath)
	}
	if o.envoyBin != "" {
		go func() {
			envoyDone <- (&agent.Supervisor{Bin: o.envoyBin, Bootstrap: o.bootPath, Logger: log.Named("envoy")}).Run(ctx)
		}()
	}
	// Whichever stops first stops the other; both are waited for, so
	// Envoy is never left running and the Workload is deregistered.
	select {
	case err = <-done:
		cancel()
		if o.envoyBin != "" {
			if envoyErr := <-envoyDone; err == nil {
				err = envoyErr
			}
		}
	case err = <-envoyDone:
		cancel()
		if agentErr := <-done; err == nil {
			err = agentErr
		}
	}
	if err == nil {
		fmt.Fprintln(out, "embassy-agent: stopped")
	}
	return err
}
