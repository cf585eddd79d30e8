//go:build kube

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/internal/kubetest"
)

// TestKube runs embassy-cp against a real Kubernetes API server (built
// and started by internal/kubetest; run it with make test-k8s). One API
// server serves every subtest, each in namespaces of its own. embassy-cp
// always runs as the ServiceAccount of deploy/kubernetes, so the
// subtests also prove that its RBAC is enough.
func TestKube(t *testing.T) {
	start := time.Now()
	k := kubetest.Start(t)
	t.Logf("kube-apiserver ready in %s", time.Since(start).Round(time.Millisecond))
	k.Apply(t, "../deploy/kubernetes/namespace.yaml", "../deploy/kubernetes/rbac.yaml")
	cpKubeconfig := k.KubeconfigFor(t, "embassy-system", "embassy-cp")
	t.Run("discovery", func(t *testing.T) { testKubeDiscovery(t, k, cpKubeconfig) })
	t.Run("attestation", func(t *testing.T) { testKubeAttestation(t, k, cpKubeconfig) })
	t.Run("rbac", func(t *testing.T) { testKubeRBAC(t, k) })
	t.Run("injection", func(t *testing.T) { testKubeInjection(t, k) })
	t.Run("crds", func(t *testing.T) { testKubeCRDs(t, k, cpKubeconfig) })
}

// kctx is a context for one API call.
func kctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// kubeNamespace creates a namespace with the service accounts named; the
// API server's ServiceAccount admission refuses Pods of one that does
// not exist, and no controller manager makes "default" here.
func kubeNamespace(t *testing.T, k *kubetest.Cluster, ns string, sas ...string) {
	t.Helper()
	if _, err := k.Client.CoreV1().Namespaces().Create(kctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, sa := range sas {
		if _, err := k.Client.CoreV1().ServiceAccounts(ns).Create(kctx(t), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// kubePod creates a Pod and, as a kubelet would, writes its status: the
// pod IP and the Ready condition.
func kubePod(t *testing.T, k *kubetest.Cluster, ns, name, sa, ip string, labels map[string]string) *corev1.Pod {
	t.Helper()
	p, err := k.Client.CoreV1().Pods(ns).Create(kctx(t), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{ServiceAccountName: sa, AutomountServiceAccountToken: ptrTo(false),
			Containers: []corev1.Container{{Name: "app", Image: "example.org/app:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return setPodReady(t, k, p, ip, true)
}

// setPodReady writes the Pod's status as the kubelet would.
func setPodReady(t *testing.T, k *kubetest.Cluster, p *corev1.Pod, ip string, ready bool) *corev1.Pod {
	t.Helper()
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}
	p, err := k.Client.CoreV1().Pods(p.Namespace).UpdateStatus(kctx(t), p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// kubeSlice creates an EndpointSlice of service with one port, listing
// pods ready; what the EndpointSlice controller would make, but for the
// addresses. The API server refuses loopback addresses in a slice, so it
// lists each Pod at an address of TEST-NET-1 (192.0.2.0/24, never
// routed); embassy-cp takes the Pod's own IP, 127.0.0.1, from its status.
func kubeSlice(t *testing.T, k *kubetest.Cluster, ns, name, service, portName string, port int32, pods ...*corev1.Pod) *discoveryv1.EndpointSlice {
	t.Helper()
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptrTo(portName), Port: ptrTo(port), Protocol: ptrTo(corev1.ProtocolTCP)}},
	}
	for i, p := range pods {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("192.0.2.%d", int(port)%200+i+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name, UID: p.UID},
		})
	}
	sl, err := k.Client.DiscoveryV1().EndpointSlices(ns).Create(kctx(t), sl, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

func ptrTo[T any](v T) *T { return &v }
