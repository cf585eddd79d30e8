package discovery

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"embassy.dev/embassy/pkg/resource"
)

func ptr[T any](v T) *T { return &v }

func TestServicePortsAndProtocols(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web", Annotations: map[string]string{ServiceAccountsAnnotation: "shop, cart"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "api", Port: 8080, AppProtocol: ptr("grpc"), TargetPort: intstr.FromInt32(9090)},
			{Name: "http-web", Port: 80, TargetPort: intstr.FromString("web")},
			{Name: "h2", Port: 81, AppProtocol: ptr("kubernetes.io/h2c")},
			{Name: "grpc-admin", Port: 82},
			{Name: "db", Port: 5432},
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		}},
	}
	r := serviceResource(svc)
	if err := resource.Validate(r); err != nil {
		t.Fatalf("the mapped Service does not validate: %v", err)
	}
	got := r.Spec.(*resource.ServiceSpec)
	want := &resource.ServiceSpec{
		ServiceAccounts: []string{"cart", "shop"},
		Ports: []resource.ServicePort{
			{Name: "api", Port: 8080, Protocol: "grpc", TargetPort: 9090},
			{Name: "http-web", Port: 80, Protocol: "http"},
			{Name: "h2", Port: 81, Protocol: "http2"},
			{Name: "grpc-admin", Port: 82, Protocol: "grpc"},
			{Name: "db", Port: 5432, Protocol: "tcp"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spec:\n got %+v\nwant %+v", got, want)
	}
	if r.Metadata.Annotations[SourceAnnotation] != SourceKubernetes {
		t.Fatalf("the resource is not marked as discovered: %v", r.Metadata.Annotations)
	}
}

func TestServicesTheMeshCannotRouteAreLeftOut(t *testing.T) {
	for name, svc := range map[string]*corev1.Service{
		"external name": {ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "a"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"}},
		"udp only":      {ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "a"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}}},
	} {
		if r := serviceResource(svc); r != nil {
			t.Errorf("%s: mapped to %+v, want nothing", name, r)
		}
	}
}

// cluster is a namespace's Pods for workloads' lookups.
type cluster map[string]*corev1.Pod

func (c cluster) pod(ns, name string) *corev1.Pod { return c[ns+"/"+name] }

func readyPod(name, sa string, ready bool, labels map[string]string) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web", UID: types.UID("uid-" + name), Labels: labels},
		Spec:       corev1.PodSpec{ServiceAccountName: sa},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func endpoint(pod, ip string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod, UID: types.UID("uid-" + pod)}}
}

func slice(svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-abc", Namespace: "web", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps,
	}
}

func names(rs []*resource.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Metadata.Name)
	}
	return out
}

func TestOnlyReadyPodsBecomeWorkloads(t *testing.T) {
	pods := cluster{
		"web/a":        readyPod("a", "shop", true, nil),
		"web/b":        readyPod("b", "shop", true, nil),
		"web/unready":  readyPod("unready", "shop", false, nil),
		"web/slicenot": readyPod("slicenot", "shop", true, nil),
		"web/nilready": readyPod("nilready", "shop", true, nil),
		"web/replaced": readyPod("replaced", "shop", true, nil),
	}
	pods["web/replaced"].UID = "a-new-pod"
	gone := readyPod("gone", "shop", true, nil)
	gone.DeletionTimestamp = &metav1.Time{}
	pods["web/gone"] = gone
	port := []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}}
	got := names(workloads([]*discoveryv1.EndpointSlice{slice("shop", port,
		endpoint("a", "10.0.0.1", ptr(true)),
		endpoint("b", "10.0.0.2", ptr(true)),
		endpoint("unready", "10.0.0.3", ptr(true)),
		endpoint("slicenot", "10.0.0.4", ptr(false)),
		endpoint("nilready", "10.0.0.5", nil),
		endpoint("replaced", "10.0.0.6", ptr(true)),
		endpoint("gone", "10.0.0.7", ptr(true)),
		endpoint("unknown", "10.0.0.8", ptr(true)),
	)}, pods.pod))
	want := []string{"a", "b", "nilready"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("workloads %v, want %v (ready in both the slice and the Pod, same UID, not deleted)", got, want)
	}
}

func TestAPodBehindTwoServicesIsOneWorkload(t *testing.T) {
	pods := cluster{"web/a": readyPod("a", "shop", true, map[string]string{"version": "v1", zoneLabel: "z-label", regionLabel: "r1"})}
	ep := endpoint("a", "10.0.0.1", ptr(true))
	ep.Zone = ptr("z1")
	rs := workloads([]*discoveryv1.EndpointSlice{
		slice("shop", []discoveryv1.EndpointPort{{Name: ptr("grpc"), Port: ptr(int32(9000))}}, ep),
		slice("admin", []discoveryv1.EndpointPort{{Port: ptr(int32(9001))}}, ep),
	}, pods.pod)
	if len(rs) != 1 {
		t.Fatalf("got %d workloads, want 1", len(rs))
	}
	if err := resource.Validate(rs[0]); err != nil {
		t.Fatalf("the Workload does not validate: %v", err)
	}
	got := rs[0].Spec.(*resource.WorkloadSpec)
	want := &resource.WorkloadSpec{
		Address:        "10.0.0.1",
		Services:       []string{"admin", "shop"},
		Ports:          []resource.WorkloadPort{{Name: unnamedPort, Port: 9001}, {Name: "grpc", Port: 9000}},
		Labels:         map[string]string{"version": "v1", zoneLabel: "z-label", regionLabel: "r1"},
		Locality:       &resource.Locality{Region: "r1", Zone: "z1"},
		ServiceAccount: "shop",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("workload:\n got %+v\nwant %+v", got, want)
	}
}

func TestTheAddressIsThePodsOfTheSlicesFamily(t *testing.T) {
	p := readyPod("a", "shop", true, nil)
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.7"}, {IP: "fd00::7"}}
	for _, c := range []struct{ slice, want string }{
		{"10.1.0.9", "10.1.0.7"}, {"fd00::9", "fd00::7"},
	} {
		if got := podAddress(p, endpoint("a", c.slice, nil)); got != c.want {
			t.Errorf("slice address %s: got %s, want %s", c.slice, got, c.want)
		}
	}
	p.Status.PodIPs = nil
	if got := podAddress(p, endpoint("a", "10.1.0.9", nil)); got != "10.1.0.9" {
		t.Errorf("a Pod without IPs: got %s, want the slice's address", got)
	}
}

func TestAppliedResourcesWinAndConflictsAreReported(t *testing.T) {
	applied := newResource(resource.KindService, "web", "shop", &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "http", Port: 80, Protocol: "http"}}})
	delete(applied.Metadata.Annotations, SourceAnnotation)
	fromKube := newResource(resource.KindService, "web", "shop", &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "grpc", Port: 90, Protocol: "grpc"}}})
	other := newResource(resource.KindService, "web", "cart", &resource.ServiceSpec{Ports: []resource.ServicePort{{Name: "grpc", Port: 90, Protocol: "grpc"}}})
	bad := newResource(resource.KindWorkload, "web", "bad.name", &resource.WorkloadSpec{Address: "10.0.0.1", Services: []string{"cart"}})
	stored := []*resource.Resource{applied}
	merged, problems := overlay(stored, []*resource.Resource{fromKube, other, bad})
	if len(stored) != 1 {
		t.Fatalf("overlay changed the stored slice")
	}
	if len(merged) != 2 || merged[0] != applied || merged[1] != other {
		t.Fatalf("merged %v, want the applied shop and the discovered cart", names(merged))
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "Service/web/shop from Kubernetes conflicts with the service applied with embassyctl") ||
		!strings.Contains(problems[1], "Workload/web/bad.name from Kubernetes is not served") {
		t.Fatalf("problems %q", problems)
	}
}
