package translate_test

import (
	"fmt"
	"testing"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// appSockets is where a workload's apps listen: 127.0.0.1 on each port's
// app port (its port when it sets none).
func appSockets(w *mesh.Workload, s *mesh.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, name := range w.Spec.Services {
		svc := s.Service(mesh.ServiceRef{Namespace: w.Namespace, Name: name})
		if svc == nil {
			continue
		}
		for _, p := range svc.Spec.Ports {
			port := p.Port
			if p.TargetPort != 0 {
				port = p.TargetPort
			}
			for _, wp := range w.Spec.Ports {
				if wp.Name == p.Name {
					port = wp.Port
					if wp.AppPort != 0 {
						port = wp.AppPort
					}
				}
			}
			out[fmt.Sprintf("127.0.0.1:%d", port)] = true
		}
	}
	return out
}

// TestSidecarsNeverBindTheirApps translates every workload's sidecar of
// every test case and example mesh and checks that none binds a socket
// its own app listens on: before tcp services had addresses of their own,
// redis's sidecar bound 127.0.0.1:6379, redis's own socket, and every
// bookstore sidecar bound 127.0.0.1:5432.
func TestSidecarsNeverBindTheirApps(t *testing.T) {
	for name, s := range corpus(t) {
		for _, w := range s.Workloads {
			r, _ := translate.ForProxy(s, translate.Proxy{ID: w.Name + "." + w.Namespace, Flavour: translate.Envoy, Workload: w.Name, Namespace: w.Namespace})
			apps := appSockets(w, s)
			for _, l := range r.Listeners {
				sa := l.GetAddress().GetSocketAddress()
				if addr := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()); apps[addr] {
					t.Errorf("%s: sidecar of %s.%s: listener %s binds %s, where its app listens", name, w.Name, w.Namespace, l.GetName(), addr)
				}
			}
		}
	}
}

// TestTCPServicesSharingAPort checks that two tcp services on one port
// each get an outbound listener, on addresses of their own.
func TestTCPServicesSharingAPort(t *testing.T) {
	s := snapshotOf(t, `
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: orders-db}
spec: {ports: [{name: pg, port: 5432, protocol: tcp}]}
---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: users-db}
spec: {ports: [{name: pg, port: 5432, protocol: tcp}]}
`)
	r, diags := translate.Outbound(s)
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	want := map[string]string{
		"outbound_tcp|5432|orders-db.default": mesh.ServiceRef{Namespace: "default", Name: "orders-db"}.TCPAddress(),
		"outbound_tcp|5432|users-db.default":  mesh.ServiceRef{Namespace: "default", Name: "users-db"}.TCPAddress(),
	}
	for _, l := range r.Listeners {
		if addr, ok := want[l.GetName()]; ok {
			if got := l.GetAddress().GetSocketAddress().GetAddress(); got != addr {
				t.Errorf("%s binds %s, want %s", l.GetName(), got, addr)
			}
			delete(want, l.GetName())
		}
	}
	if len(want) != 0 {
		t.Errorf("missing listeners %v", want)
	}
}
