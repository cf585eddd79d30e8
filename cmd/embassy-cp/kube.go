package main

import (
	"context"

	"github.com/spf13/pflag"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/kube"
	"embassy.dev/embassy/pkg/kube/attest"
	"embassy.dev/embassy/pkg/kube/discovery"
	elog "embassy.dev/embassy/pkg/log"
)

// kubeFlags are the flags that put embassy-cp on Kubernetes.
type kubeFlags struct {
	enabled    bool
	kubeconfig string
	namespaces []string
}

func (k *kubeFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&k.enabled, "kubernetes", false, "discover Services and ready Pods (as Workloads) from Kubernetes, beside what embassyctl applies, and let agents attest with their Pod's service-account token (audience "+attest.Audience+")")
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes API server (default: the Pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config)")
	f.StringSliceVar(&k.namespaces, "namespaces", nil, "namespaces to discover, comma-separated or repeated (default: all)")
}

// configure connects to the API server and fills cfg's Kubernetes parts;
// the informers it starts stop with ctx.
func (k *kubeFlags) configure(ctx context.Context, cfg *controlplane.Config) error {
	if !k.enabled {
		return nil
	}
	client, err := kube.NewClient(k.kubeconfig)
	if err != nil {
		return err
	}
	src, err := discovery.New(client, k.namespaces, cfg.Logger.Named(elog.Kubernetes))
	if err != nil {
		return err
	}
	if err := src.Start(ctx); err != nil {
		return err
	}
	cfg.Discovery = src
	cfg.PodTokens = attest.New(client)
	return nil
}
