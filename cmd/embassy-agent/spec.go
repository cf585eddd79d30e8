package main

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/spiffe"
)

// workloadFlags are the flags that describe the registered Workload.
type workloadFlags struct {
	address               string
	services, ports       []string
	labels                []string
	region, zone, subZone string
}

// spec builds the Workload spec the agent registers. The namespace and
// service account come from the agent's certificate, not from here.
func (w workloadFlags) spec() (resource.WorkloadSpec, error) {
	var s resource.WorkloadSpec
	if w.address != "" {
		ip, err := netip.ParseAddr(w.address)
		if err != nil {
			return s, fmt.Errorf("--address %q: not an IP address", w.address)
		}
		s.Address = ip.String()
	}
	s.Services = append([]string(nil), w.services...)
	for _, p := range w.ports {
		port, err := parsePort(p)
		if err != nil {
			return s, err
		}
		s.Ports = append(s.Ports, port)
	}
	if len(w.labels) > 0 {
		s.Labels = map[string]string{}
		for _, l := range w.labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return s, fmt.Errorf("--label %q: expected KEY=VALUE", l)
			}
			if _, dup := s.Labels[k]; dup {
				return s, fmt.Errorf("--label %q: key %q given twice", l, k)
			}
			s.Labels[k] = v
		}
	}
	if w.region != "" || w.zone != "" || w.subZone != "" {
		s.Locality = &resource.Locality{Region: w.region, Zone: w.zone, SubZone: w.subZone}
	}
	sort.Slice(s.Ports, func(i, j int) bool { return s.Ports[i].Name < s.Ports[j].Name })
	return s, nil
}

// parsePort reads NAME=PORT[:APPPORT].
func parsePort(s string) (resource.WorkloadPort, error) {
	name, nums, ok := strings.Cut(s, "=")
	if !ok || name == "" || nums == "" {
		return resource.WorkloadPort{}, fmt.Errorf("--port %q: expected NAME=PORT or NAME=PORT:APPPORT, e.g. http=8080:9090", s)
	}
	portStr, appStr, hasApp := strings.Cut(nums, ":")
	port, err := portNumber(portStr)
	if err != nil {
		return resource.WorkloadPort{}, fmt.Errorf("--port %q: %w", s, err)
	}
	p := resource.WorkloadPort{Name: name, Port: port}
	if hasApp {
		if p.AppPort, err = portNumber(appStr); err != nil {
			return resource.WorkloadPort{}, fmt.Errorf("--port %q: application port: %w", s, err)
		}
	}
	return p, nil
}

func portNumber(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint32(n), nil
}

// readBundle reads PEM root certificates from path.
func readBundle(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--trust-bundle: %w", err)
	}
	roots, err := spiffe.ParseCertsPEM(b)
	if err != nil {
		return nil, fmt.Errorf("--trust-bundle %s: %w", path, err)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("--trust-bundle %s holds no PEM certificates (write it with: embassyctl bundle > %s)", path, path)
	}
	return roots, nil
}

// sidecarSafe refuses ports an Envoy sidecar cannot serve: apps behind a
// sidecar listen on 127.0.0.1:<appPort> (their port when no app port is
// given), so on a workload whose address is 127.0.0.1 (or a wildcard) a
// port equal to an app's would have Envoy take the app's socket, and
// forward to itself when it is that port's own app.
func sidecarSafe(s resource.WorkloadSpec) error {
	ip, err := netip.ParseAddr(s.Address)
	if err != nil || (ip != netip.MustParseAddr("127.0.0.1") && !ip.IsUnspecified()) {
		return nil
	}
	for _, p := range s.Ports {
		for _, app := range s.Ports {
			if appPort(app) == p.Port {
				return fmt.Errorf("--port %s=%d: with --address %s, Envoy would listen on port %d, where the app of port %s listens (127.0.0.1:%d); give the app a port of its own, --port %s=%d:APPPORT, or register the workload's non-loopback --address",
					p.Name, p.Port, s.Address, p.Port, app.Name, appPort(app), app.Name, app.Port)
			}
		}
	}
	return nil
}

// appPort is where the app behind a sidecar listens for port p.
func appPort(p resource.WorkloadPort) uint32 {
	if p.AppPort != 0 {
		return p.AppPort
	}
	return p.Port
}
