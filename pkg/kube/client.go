// Package kube connects embassy-cp to a Kubernetes API server; its
// subpackages map the cluster into the mesh (discovery) and verify the
// service-account tokens agents attest with (attest).
package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// userAgent names embassy-cp in the API server's logs and audit.
const userAgent = "embassy-cp"

// NewClient returns a client of the API server that kubeconfig names; an
// empty kubeconfig means the Pod's own service account when running in a
// cluster, else the usual $KUBECONFIG or ~/.kube/config.
func NewClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = userAgent
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
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
