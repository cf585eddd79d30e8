// Command embassy-cp is Embassy's control plane: it stores the mesh's
// resources, translates them to Envoy configuration and serves it over xDS,
// and answers the HTTP API that embassyctl talks to.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
	elog "embassy.dev/embassy/pkg/log"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/sandbox"
)

// defaultDataDir is where embassy-cp keeps its store unless told.
const defaultDataDir = "./embassy-data"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "embassy-cp:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var (
		cfg      controlplane.Config
		logLevel string
		logJSON  bool
		// regoMemoryMiB is cfg.Rego.Memory in MiB, as operators size it.
		regoMemoryMiB int64
		kubeOpts      kubeFlags
		etcd          etcdFlags
	)
	cmd := &cobra.Command{
		Use:   "embassy-cp",
		Short: "Embassy's control plane: store, translator, xDS server and HTTP API",
		Long: `embassy-cp keeps the mesh's resources (Mesh, Service, Workload, Route,
TrafficPolicy, AuthorizationPolicy) in an embedded store, translates them to
Envoy configuration and serves it to Envoy sidecars and proxyless gRPC
applications over ADS (state-of-the-world and incremental xDS).

Everything listens on loopback by default. Write calls to the API need the
admin token: on first start it is created in <data-dir>/admin-token (mode
0600); its path is printed, the token never is. Give your own with
--admin-token-file. Reads (status, proxies, resources, events, metrics)
need the admin token or the read token, <data-dir>/read-token (or
--read-token-file); --anonymous-reads lets loopback clients read without
one. /healthz, /readyz and /v1/bundle are public. The API answers only
requests that call it by a loopback name (127.0.0.1, [::1], localhost),
the host of --api-addr or a name given with --api-host, and takes only
JSON bodies, so that a web page in the operator's browser can neither
read nor write it. The dashboard is at http://<api-addr>/ui/: its pages
hold no data and read the API with the read token typed into them (or
anonymously, with --anonymous-reads).

What is applied survives restarts: start embassy-cp again on the same
--data-dir and proxies are served the same configuration. The data dir's
record (` + store.RecordFile + `) names the store and CA it holds: a data dir
whose database is missing, empty or another's is refused, never started
afresh with a new CA. Back up with embassyctl backup -o FILE and restore with
embassy-cp restore (see embassy-cp restore --help).

For availability the store can be etcd: --store etcd --etcd-endpoints
URL,... shares one store between every embassy-cp given the same endpoints
and --etcd-prefix, and --etcd-embedded runs an etcd member inside this
process, so that the replicas listed in --etcd-peers form their own etcd
cluster (data in <data-dir>/etcd). Every replica is given the same
--ca-key-encryption-key-file: the CA's private keys are kept in etcd only
sealed with it. Applies stay atomic whatever their size;
while etcd cannot be reached, writes answer 503 and /readyz says why, and
proxies keep their configuration. See docs/ha.md.

xDS is served over TLS with a certificate from the mesh CA, whose root is
kept in the store. Its trust domain is chosen when the data dir is new:
--trust-domain, default embassy.local. It never changes afterwards: a Mesh
naming another trust domain is refused, and so is a start with another
--trust-domain; a new trust domain needs a new --data-dir. Every xDS stream must present the workload's SVID, which
embassy-agent obtains with a join token (embassyctl token create), and is
served only the configuration of the identity it proves. The same listener
serves the agents' identity API. --insecure-xds turns all of that off for
local development: plaintext, no client certificates, no identity service.

SPIRE as the mesh's CA (a Mesh with ca: {type: spire, socketPath: PATH}, or
--spire-socket PATH, which wins): embassy-cp takes its own xDS certificate
from the SPIRE agent on its node, as the SVID SPIRE issues it for
spiffe://<trust-domain>/ns/embassy-system/sa/embassy-cp (register it with
DNS names for the addresses proxies dial; SPIRE's trust domain must be the
mesh's), and trusts SPIRE's bundle for client certificates. Agents then
run with --spire-socket instead of a join token; embassy-cp issues no
X.509-SVIDs, and /v1/bundle serves SPIRE's roots. A change of CA type in
the Mesh takes effect when embassy-cp restarts.

On Kubernetes (--kubernetes): embassy-cp watches Services, EndpointSlices
and Pods (of --namespaces, default all) and serves each Service as a mesh
Service (ports from appProtocol or the port name's grpc-/http-/http2-
prefix, else tcp; the annotation embassy.dev/service-accounts lists who may
serve it) and each ready Pod behind one as a Workload (its labels, service
account and zone/region). They are never stored, and are served beside
what embassyctl applies: Routes and policies may name them; an applied
resource of the same kind, namespace and name wins, and the clash is a
"conflict" event. Agents attest with their Pod's service-account token
(embassy-agent --k8s-token-file), verified with TokenReview. With
--kubernetes-crds it also serves the Mesh, Route, TrafficPolicy and
AuthorizationPolicy custom resources (deploy/kubernetes/crds.yaml).
--webhook-addr serves two admission webhooks over HTTPS with a certificate
of the mesh CA: sidecar injection (deploy/kubernetes/injection-webhook.yaml)
and validation of the custom resources by a dry run of embassyctl apply's
checks (validating-webhook.yaml). The identity embassy-cp runs as needs
the RBAC of deploy/kubernetes/rbac.yaml.`,
		Example: `  # Start for the quickstart's trust domain, example.org (./embassy-data,
  # xDS on 127.0.0.1:15010, API on 127.0.0.1:15000)
  embassy-cp --trust-domain example.org

  # Then, in another shell
  embassyctl --token-file embassy-data/admin-token apply -f examples/quickstart
  embassyctl bundle > bundle.pem

  # Plaintext xDS for local development with proxyless clients
  embassy-cp --insecure-xds

  # On Kubernetes, discovering the shop namespace
  embassy-cp --trust-domain cluster.local --kubernetes --namespaces shop

  # One of three replicas, each running an etcd member (run the same on r2
  # and r3 with their own --etcd-name)
  embassy-cp --etcd-embedded --etcd-name r1 --ca-key-encryption-key-file /etc/embassy/ca.kek \
    --etcd-peers r1=http://10.0.0.1:2380,r2=http://10.0.0.2:2380,r3=http://10.0.0.3:2380

  # SPIRE issues every SVID, the control plane's included
  embassy-cp --trust-domain example.org --spire-socket /run/spire/agent.sock`,
		SilenceUsage: true,
		// main prints the error, once.
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = elog.New("embassy-cp", elog.Options{Level: logLevel, JSON: logJSON})
			cfg.Rego.Memory = regoMemoryMiB << 20
			cfg.Out = cmd.OutOrStdout()
			var err error
			if cfg.Store, err = etcd.storeKind(cfg.Store, cmd.Flags().Changed("store")); err != nil {
				return err
			}
			if cfg.Etcd, err = etcd.config(cfg.DataDir); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := kubeOpts.configure(ctx, &cfg); err != nil {
				return err
			}
			cp, err := controlplane.Start(ctx, cfg)
			if err != nil {
				return err
			}
			stopWebhook, err := kubeOpts.serveWebhook(cp, cfg, cmd.OutOrStdout())
			if err != nil {
				cp.Close()
				return err
			}
			defer stopWebhook()
			select {
			case <-ctx.Done():
				fmt.Fprintln(cmd.OutOrStdout(), "embassy-cp: shutting down")
			case err = <-cp.Err():
			}
			if cerr := cp.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", defaultDataDir, "directory of the embedded store and the admin token")
	f.StringVar(&cfg.Store, "store", "bbolt", "store kind: bbolt (embedded, one process), etcd (shared by replicas; see --etcd-*) or memory (lost on exit)")
	f.StringVar(&cfg.XDSAddr, "xds-addr", dataplane.DefaultXDSAddress, "listen address of the xDS (ADS) gRPC server")
	f.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:15000", "listen address of the HTTP API")
	f.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "file holding the admin bearer token (default: <data-dir>/admin-token, created on first start)")
	f.StringVar(&cfg.ReadTokenFile, "read-token-file", "", "file holding the read bearer token for status reads (default: <data-dir>/read-token, created on first start)")
	f.BoolVar(&cfg.AnonymousReads, "anonymous-reads", false, "let reads without a token through from loopback clients (only when --api-addr is a loopback address)")
	f.StringArrayVar(&cfg.APIHosts, "api-host", nil, "extra name (or IP) clients may call the API by in the Host header (repeatable); loopback names and the host of --api-addr are always accepted, any other Host is refused against DNS rebinding")
	f.DurationVar(&cfg.StaleAfter, "stale-after", 10*time.Second, "how long a proxy may leave a sent version unacked before proxy-status calls it STALE")
	f.IntVar(&cfg.EventBuffer, "event-buffer", 1000, "how many recent events /v1/events keeps")
	f.DurationVar(&cfg.Debounce, "debounce", 100*time.Millisecond, "how long changes are coalesced before a push (a steady stream of changes is pushed at least every second, or every debounce if longer); the first change after a debounce without changes or pushes is pushed at once")
	f.BoolVar(&cfg.DebounceEvery, "debounce-every", false, "hold every change for --debounce, even the first after a quiet spell")
	f.BoolVar(&cfg.InsecureXDS, "insecure-xds", false, "serve xDS in plaintext without client certificates or the identity service (local development only)")
	f.StringArrayVar(&cfg.XDSServerNames, "xds-server-name", nil, "extra DNS name or IP for the xDS certificate (repeatable); the listen host, 127.0.0.1, ::1 and localhost are always in it")
	f.StringVar(&cfg.TrustDomain, "trust-domain", "", "trust domain of the mesh CA made on a new data dir (default: the stored Mesh's or CA's, else embassy.local); a data dir keeps its trust domain")
	f.StringVar(&cfg.CACertFile, "ca-cert-file", "", "PEM file of a provided CA certificate (with its chain), instead of the builtin CA")
	f.StringVar(&cfg.CAKeyFile, "ca-key-file", "", "PEM file of the provided CA's private key (with --ca-cert-file)")
	f.StringVar(&cfg.CAKeyEncryptionKeyFile, "ca-key-encryption-key-file", "", "file (mode 0600) holding the base64 of a 32-byte key that seals the CA's private keys in the store with AES-256-GCM; required with --store etcd, the same file on every replica (make one with: head -c 32 /dev/urandom | base64)")
	f.StringVar(&cfg.SPIRESocket, "spire-socket", "", "make SPIRE the mesh's CA through the SPIRE agent's Workload API on this unix socket (default: the stored Mesh's ca.socketPath when its ca.type is spire)")
	f.DurationVar(&cfg.SPIRETimeout, "spire-timeout", controlplane.DefaultSPIRETimeout, "how long to wait at start for the SPIRE agent's first SVID and bundle")
	f.DurationVar(&cfg.Rego.Timeout, sandbox.FlagTimeout, sandbox.DefaultTimeout, "deadline of each piece of policy Rego embassy-cp runs (apply-time compile and partial evaluation, policy eval, /v1/check); a policy exceeding it is refused at apply, or fails closed when stored")
	f.Int64Var(&regoMemoryMiB, sandbox.FlagMemory, sandbox.DefaultMemory>>20, fmt.Sprintf("memory budget in MiB of each Rego sandbox process (at most %d run at once); a policy exceeding it is refused at apply, or fails closed when stored", sandbox.CompileWorkers+sandbox.ReadWorkers))
	kubeOpts.register(f)
	f.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	f.BoolVar(&logJSON, "log-json", false, "log one JSON object per line")
	etcd.add(f)
	cmd.AddCommand(newRestoreCmd())
	return cmd
}
