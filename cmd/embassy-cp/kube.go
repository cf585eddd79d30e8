package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/service"
	"embassy.dev/embassy/pkg/kube"
	"embassy.dev/embassy/pkg/kube/admission"
	"embassy.dev/embassy/pkg/kube/attest"
	"embassy.dev/embassy/pkg/kube/discovery"
	"embassy.dev/embassy/pkg/kube/inject"
	elog "embassy.dev/embassy/pkg/log"
)

// kubeFlags are the flags that put embassy-cp on Kubernetes.
type kubeFlags struct {
	enabled     bool
	kubeconfig  string
	namespaces  []string
	crds        bool
	webhookAddr string
	inject      inject.Config
}

func (k *kubeFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&k.enabled, "kubernetes", false, "discover Services and ready Pods (as Workloads) from Kubernetes, beside what embassyctl applies, and let agents attest with their Pod's service-account token (audience "+attest.Audience+")")
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes API server (default: the Pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config)")
	f.StringSliceVar(&k.namespaces, "namespaces", nil, "namespaces to discover, comma-separated or repeated (default: all)")
	f.BoolVar(&k.crds, "kubernetes-crds", false, "also serve the Embassy custom resources (Mesh, Route, TrafficPolicy, AuthorizationPolicy) written with kubectl; their CRDs (deploy/kubernetes/crds.yaml) must be installed")
	f.StringVar(&k.webhookAddr, "webhook-addr", "", "serve the admission webhooks (sidecar injection, and validation of the Embassy custom resources by the checks of embassyctl apply) over HTTPS here, with a certificate from the mesh CA for the listen host, loopback and --xds-server-name; off when empty")
	f.StringVar(&k.inject.AgentImage, "inject-agent-image", "embassy-agent:latest", "image of the embassy-agent container the webhook injects")
	f.StringVar(&k.inject.EnvoyImage, "inject-envoy-image", "envoyproxy/envoy:v1.36-latest", "image of the Envoy container the webhook injects")
	f.StringVar(&k.inject.XDSAddress, "inject-xds-address", inClusterXDSAddress(), "embassy-cp's xDS address as injected Pods reach it")
}

// inClusterXDSAddress is where Pods reach embassy-cp deployed by
// deploy/kubernetes: its Service, named like its service account in its
// namespace, on the default xDS port.
func inClusterXDSAddress() string {
	_, port, _ := net.SplitHostPort(dataplane.DefaultXDSAddress)
	return net.JoinHostPort(dataplane.ControlPlaneServiceAccount+"."+dataplane.ControlPlaneNamespace+".svc", port)
}

// serveWebhook serves the injection webhook when --webhook-addr is set,
// until the returned function stops it. Its certificate comes from the
// mesh CA, whose roots (embassyctl bundle) are the webhook
// configuration's caBundle.
func (k *kubeFlags) serveWebhook(cp *controlplane.ControlPlane, cfg controlplane.Config, out io.Writer) (func(), error) {
	if k.webhookAddr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(k.webhookAddr)
	if err != nil {
		return nil, fmt.Errorf("--webhook-addr %s: %w", k.webhookAddr, err)
	}
	certs, err := service.NewServerTLS(cp.CA(), host, cfg.XDSServerNames, 0, nil, cfg.Logger.Named(elog.Kubernetes))
	if err != nil {
		return nil, fmt.Errorf("the webhook's certificate: %w", err)
	}
	lis, err := net.Listen("tcp", k.webhookAddr)
	if err != nil {
		return nil, fmt.Errorf("--webhook-addr %s: %w", k.webhookAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(inject.NamespacePath, inject.Handler(k.inject))
	mux.Handle(inject.PodPath, inject.Handler(k.inject))
	mux.Handle(admission.Path, admission.Handler(cp.Applier()))
	srv := &http.Server{Handler: mux, TLSConfig: certs.Config(), ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(lis, "", "")
	fmt.Fprintf(out, "embassy-cp: serving the admission webhooks on https://%s: sidecar injection at %s and %s, validation at %s\n",
		lis.Addr(), inject.NamespacePath, inject.PodPath, admission.Path)
	return func() { srv.Close() }, nil
}

// configure connects to the API server and fills cfg's Kubernetes parts;
// the informers it starts stop with ctx.
func (k *kubeFlags) configure(ctx context.Context, cfg *controlplane.Config) error {
	if !k.enabled {
		return nil
	}
	clients, err := kube.NewClients(k.kubeconfig)
	if err != nil {
		return err
	}
	var custom dynamic.Interface
	if k.crds {
		custom = clients.Dynamic
	}
	src, err := discovery.New(clients.Core, custom, k.namespaces, cfg.Logger.Named(elog.Kubernetes))
	if err != nil {
		return err
	}
	if err := src.Start(ctx); err != nil {
		return err
	}
	cfg.Discovery = src
	cfg.PodTokens = attest.New(clients.Core)
	return nil
}
