package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// columns are a kind's table headers and how to fill a row.
type columns struct {
	headers []string
	row     func(r *resource.Resource) []string
}

// tableColumns picks, per kind, the columns an operator looks at first.
var tableColumns = map[resource.Kind]columns{
	resource.KindMesh: {
		headers: []string{"NAME", "TRUST-DOMAIN", "MTLS", "CA", "SVID-TTL"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.MeshSpec)
			mtls, ca := resource.MTLSStrict, "builtin"
			if s.MTLS != nil && s.MTLS.Mode != "" {
				mtls = s.MTLS.Mode
			}
			if s.CA != nil && s.CA.Type != "" {
				ca = s.CA.Type
			}
			return []string{r.Metadata.Name, s.TrustDomain, mtls, ca, orDash(string(s.SVIDTTL))}
		},
	},
	resource.KindService: {
		headers: []string{"NAMESPACE", "NAME", "PORTS", "ENDPOINTS-STATIC"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.ServiceSpec)
			ports := make([]string, len(s.Ports))
			for i, p := range s.Ports {
				ports[i] = fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol)
			}
			return []string{r.Metadata.Namespace, r.Metadata.Name, orDash(strings.Join(ports, ",")), strconv.Itoa(len(s.Endpoints))}
		},
	},
	resource.KindWorkload: {
		headers: []string{"NAMESPACE", "NAME", "ADDRESS", "SERVICES", "LABELS"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.WorkloadSpec)
			return []string{r.Metadata.Namespace, r.Metadata.Name, s.Address, orDash(strings.Join(s.Services, ",")), labels(s.Labels)}
		},
	},
	resource.KindRoute: {
		headers: []string{"NAMESPACE", "NAME", "SERVICE", "RULES"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.RouteSpec)
			svc := s.Service
			if s.Port != 0 {
				svc += ":" + strconv.FormatUint(uint64(s.Port), 10)
			}
			return []string{r.Metadata.Namespace, r.Metadata.Name, svc, strconv.Itoa(len(s.Rules))}
		},
	},
	resource.KindTrafficPolicy: {
		headers: []string{"NAMESPACE", "NAME", "SERVICE", "LOAD-BALANCER", "CONNECT-TIMEOUT"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.TrafficPolicySpec)
			lb := "-"
			if s.LoadBalancer != nil {
				lb = s.LoadBalancer.Policy
			}
			return []string{r.Metadata.Namespace, r.Metadata.Name, s.Service, lb, orDash(string(s.ConnectTimeout))}
		},
	},
	resource.KindAuthorizationPolicy: {
		headers: []string{"NAMESPACE", "NAME", "TARGETS", "MODULES", "MODE"},
		row: func(r *resource.Resource) []string {
			s := r.Spec.(*resource.AuthorizationPolicySpec)
			targets := strings.Join(s.Targets.Services, ",")
			if s.Targets.Selector != nil {
				targets = strings.TrimPrefix(targets+","+labels(s.Targets.Selector.MatchLabels), ",")
			}
			return []string{r.Metadata.Namespace, r.Metadata.Name, orDash(targets), strconv.Itoa(len(s.Modules)), mesh.PolicyMode(s)}
		},
	},
}

// PrintTable writes resources of one kind as an aligned table, every cell
// in full.
func PrintTable(w io.Writer, kind resource.Kind, rs []*resource.Resource) error {
	return PrintTableWith(w, kind, rs, TableOptions{})
}

// PrintTableWith writes resources of one kind as a table fitted to o.
func PrintTableWith(w io.Writer, kind resource.Kind, rs []*resource.Resource, o TableOptions) error {
	cols, ok := tableColumns[kind]
	if !ok {
		return fmt.Errorf("no table layout for kind %s: use -o yaml or -o json", kind)
	}
	t := &table{headers: cols.headers, gap: 3}
	for _, r := range rs {
		t.rows = append(t.rows, cols.row(r))
	}
	return t.write(w, o)
}

// labels renders a label map as sorted k=v pairs.
func labels(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// orDash shows "-" for an empty cell, so columns stay aligned and readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
