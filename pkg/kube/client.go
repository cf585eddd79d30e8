// Package kube connects embassy-cp to a Kubernetes API server; its
// subpackages map the cluster into the mesh (discovery) and verify the
// service-account tokens agents attest with (attest).
package kube

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// userAgent names embassy-cp in the API server's logs and audit.
const userAgent = "embassy-cp"

// Clients are the typed client of the built-in kinds and the dynamic one
// of the Embassy custom resources, of one API server.
type Clients struct {
	Core    kubernetes.Interface
	Dynamic dynamic.Interface
}

// NewClients returns clients of the API server that kubeconfig names; an
// empty kubeconfig means the Pod's own service account when running in a
// cluster, else the usual $KUBECONFIG or ~/.kube/config.
func NewClients(kubeconfig string) (Clients, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return Clients{}, err
	}
	cfg.UserAgent = userAgent
	var c Clients
	if c.Core, err = kubernetes.NewForConfig(cfg); err != nil {
		return Clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return Clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		if kubeconfig != "" {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		return nil, fmt.Errorf("no Kubernetes API server to talk to: not in a cluster, and no kubeconfig (give --kubeconfig FILE or set KUBECONFIG): %w", err)
	}
	return cfg, nil
}
