package kubetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Apply creates every object of the YAML manifests at paths, as
// `kubectl create -f` would, failing the test on the first refusal.
func (c *Cluster) Apply(t testing.TB, paths ...string) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for i := 0; ; i++ {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s, document %d: %v", filepath.Base(path), i, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s, document %d (%s): %v", filepath.Base(path), i, gvk, err)
			}
			ri := dyn.Resource(m.Resource)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if u.GetNamespace() != "" {
				_, err = ri.Namespace(u.GetNamespace()).Create(ctx, &u, metav1.CreateOptions{})
			} else {
				_, err = ri.Create(ctx, &u, metav1.CreateOptions{})
			}
			cancel()
			if err != nil {
				t.Fatalf("%s, document %d (%s %s): %v", filepath.Base(path), i, gvk.Kind, u.GetName(), err)
			}
		}
	}
}

// Token returns a service-account token from the TokenRequest API, for
// audience (the API server's own when empty), bound to the Pod named pod
// (unbound when pod is empty).
func (c *Cluster) Token(t testing.TB, ns, sa, audience, pod string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	if pod != "" {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("kubetest: the Pod to bind a token to: %v", err)
		}
		req.Spec.BoundObjectRef = &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod, UID: types.UID(p.UID)}
	}
	tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: TokenRequest for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// KubeconfigFor writes a kubeconfig that authenticates as service
// account ns/sa with a TokenRequest token, and returns its path.
func (c *Cluster) KubeconfigFor(t testing.TB, ns, sa string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig-"+sa)
	c.writeKubeconfig(t, path, c.Config.CAFile, sa, c.Token(t, ns, sa, "", ""))
	return path
}

func ptr[T any](v T) *T { return &v }
