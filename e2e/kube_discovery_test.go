//go:build kube

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"embassy.dev/embassy/internal/kubetest"
	"embassy.dev/embassy/internal/nettest"
)

const kubeRoute = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: kdisc}
spec:
  service: echo
  rules:
    - backends:
        - {subset: {version: v1}, weight: %d}
        - {subset: {version: v2}, weight: %d}
`

// testKubeDiscovery: a Service, its Pods and EndpointSlices created
// through the API reach gRPC's own xDS client through embassy-cp; a
// Route applied with embassyctl splits the discovered Service; a Pod
// turned unready leaves, and comes back when ready again; an applied
// Service of the same name is reported as a conflict.
func testKubeDiscovery(t *testing.T, k *kubetest.Cluster, cpKubeconfig string) {
	const ns = "kdisc"
	dir := t.TempDir()
	_, v2 := echoPods(t, k, ns)
	p2, sl2 := v2.pod, v2.slice
	cp := startCP(t, dir+"/data", "127.0.0.1:0", "127.0.0.1:0", "--kubernetes", "--kubeconfig", cpKubeconfig, "--namespaces", ns)
	boot := writeFile(t, dir, "bootstrap.json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", "client.default", "--xds-address", cp.xds))
	target := "xds:///echo." + ns + ":50051"

	// A push follows a change by the debounce interval, so a client
	// started at once may still get the previous snapshot: ask again.
	callsUntil(t, boot, target, "calls reach both discovered Pods without errors", func(s split) bool {
		return s.Errors == 0 && s.ByBackend["v1"] > 0 && s.ByBackend["v2"] > 0
	})
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(kubeRoute, 0, 100)))
	callsUntil(t, boot, target, "a 0/100 Route over the discovered Service sends every call to v2", func(s split) bool {
		return s.Errors == 0 && s.ByBackend["v2"] == s.Total
	})
	cp.mustCtl(t, "delete", "route", "echo", "-n", ns)

	iv := startIntervals(t, boot, target, 40*time.Second)
	iv.until("both Pods answer", func(s split) bool { return s.ByBackend["v1"] > 0 && s.ByBackend["v2"] > 0 })

	// Unready as a kubelet reports it, then as the EndpointSlice
	// controller follows; either is enough.
	at := time.Now()
	p2 = setPodReady(t, k, p2, "127.0.0.1", false)
	setSliceReady(t, k, sl2, false)
	left := iv.until("the unready Pod gets no calls", func(s split) bool { return s.Total > 0 && s.ByBackend["v2"] == 0 && s.Errors == 0 })
	t.Logf("figure: unready Pod out of the client's endpoints %s after its status was written (100ms intervals)", left.Sub(at).Round(time.Millisecond))

	at = time.Now()
	setPodReady(t, k, p2, "127.0.0.1", true)
	setSliceReady(t, k, sl2, true)
	back := iv.until("the Pod ready again gets calls", func(s split) bool { return s.ByBackend["v2"] > 0 })
	t.Logf("figure: Pod Ready to calls on it through EDS %s (100ms intervals)", back.Sub(at).Round(time.Millisecond))

	conflict := strings.ReplaceAll(`apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: echo, namespace: NS}
spec:
  ports: [{name: grpc, port: 50051, protocol: grpc}]
  serviceAccounts: [echo]
`, "NS", ns)
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "conflict.yaml", conflict))
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(cp.mustCtl(t, "events"), "Service/kdisc/echo from Kubernetes conflicts with the service applied with embassyctl") {
		if time.Now().After(deadline) {
			t.Fatalf("no conflict event within 15s:\n%s", cp.mustCtl(t, "events"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// callsUntil runs 100 calls at a time until their split satisfies ok,
// failing the test after a bound that is a liveness limit only.
func callsUntil(t *testing.T, boot, target, what string, ok func(split) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		s := runClient(t, boot, "--target", target, "--count", "100")
		if ok(s) {
			return
		}
		if time.Now().After(deadline) || i > 50 {
			t.Fatalf("no run of 100 calls within 15s where %s; the last: %+v", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setSliceReady writes the ready condition of every endpoint of a slice.
func setSliceReady(t *testing.T, k *kubetest.Cluster, sl *discoveryv1.EndpointSlice, ready bool) {
	t.Helper()
	cur, err := k.Client.DiscoveryV1().EndpointSlices(sl.Namespace).Get(kctx(t), sl.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cur.Endpoints {
		cur.Endpoints[i].Conditions.Ready = ptrTo(ready)
	}
	if _, err := k.Client.DiscoveryV1().EndpointSlices(sl.Namespace).Update(kctx(t), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// mustPort is the port of a host:port as an int32.
func mustPort(t *testing.T, addr string) int32 {
	t.Helper()
	var p int32
	if _, err := fmt.Sscan(portOf(t, addr), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// echoPod is an echo-server with the Pod and EndpointSlice that list it.
type echoPod struct {
	pod   *corev1.Pod
	slice *discoveryv1.EndpointSlice
}

// echoPods runs two echo-servers, v1 and v2, and creates in ns (with
// service account echo) the Service echo and, as the kubelet and the
// EndpointSlice controller would, a ready Pod and a slice for each.
func echoPods(t *testing.T, k *kubetest.Cluster, ns string) (v1, v2 echoPod) {
	t.Helper()
	kubeNamespace(t, k, ns, "echo")
	_, err := k.Client.CoreV1().Services(ns).Create(kctx(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "grpc", Port: 50051, AppProtocol: ptrTo("grpc"), TargetPort: intstr.FromString("grpc")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Both Pods listen on 127.0.0.1, on different ports, so each has a
	// slice of its own, as the EndpointSlice controller groups by ports.
	run := func(version string) echoPod {
		addr := nettest.FreeAddr(t)
		start(t, "echo-server", "--addr", addr, "--name", version).waitFor(reListening, 10*time.Second)
		p := kubePod(t, k, ns, "echo-"+version, "echo", "127.0.0.1", map[string]string{"version": version})
		return echoPod{pod: p, slice: kubeSlice(t, k, ns, "echo-"+version, "echo", "grpc", mustPort(t, addr), p)}
	}
	return run("v1"), run("v2")
}
