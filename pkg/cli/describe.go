package cli

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Related is what describe shows beside a resource: the mesh's view of a
// Service's endpoints, the resources that target it, and how the control
// plane compiled its AuthorizationPolicies.
type Related struct {
	// Service is the mesh's view of a described Service (nil for others).
	Service *apiwire.ServiceStatus
	// Routes, TrafficPolicies and AuthorizationPolicies target the
	// described Service, or the services a described Workload backs.
	Routes, TrafficPolicies, AuthorizationPolicies []*resource.Resource
	// Policies is the compile and distribution status of policies, from
	// /v1/policies; nil when the server did not say.
	Policies []apiwire.PolicyStatus
}

// FindRelated picks from all (every resource of the described one's
// namespace) what targets r, and r's own status from services and
// policies; either may be nil when the server could not answer.
func FindRelated(r *resource.Resource, all []*resource.Resource, services *apiwire.ServicesResponse, policies *apiwire.PoliciesResponse) Related {
	var rel Related
	if policies != nil {
		rel.Policies = policies.Policies
	}
	ns := r.Metadata.Namespace
	var svcNames, workloads []string
	var wlLabels map[string]string
	switch s := r.Spec.(type) {
	case *resource.ServiceSpec:
		svcNames = []string{r.Metadata.Name}
		if services != nil {
			for i, st := range services.Services {
				if st.Name == r.Metadata.Name && st.Namespace == ns {
					rel.Service = &services.Services[i]
					for _, ep := range st.Endpoints {
						if ep.Workload != "" {
							workloads = append(workloads, ns+"/"+ep.Workload)
						}
					}
				}
			}
		}
	case *resource.WorkloadSpec:
		svcNames, wlLabels = s.Services, s.Labels
		workloads = []string{ns + "/" + r.Metadata.Name}
	default:
		return rel
	}
	for _, o := range all {
		if o.Metadata.Namespace != ns {
			continue
		}
		switch s := o.Spec.(type) {
		case *resource.RouteSpec:
			if slices.Contains(svcNames, s.Service) {
				rel.Routes = append(rel.Routes, o)
			}
		case *resource.TrafficPolicySpec:
			if slices.Contains(svcNames, s.Service) {
				rel.TrafficPolicies = append(rel.TrafficPolicies, o)
			}
		case *resource.AuthorizationPolicySpec:
			if targets(s.Targets, svcNames, wlLabels) || slices.ContainsFunc(workloads, rel.policyTargets(o)) {
				rel.AuthorizationPolicies = append(rel.AuthorizationPolicies, o)
			}
		}
	}
	return rel
}

// targets reports whether a policy's targets name one of the services or
// select the labels (the mesh's own rule, namespaces aside).
func targets(t resource.Targets, services []string, labels map[string]string) bool {
	for _, s := range t.Services {
		if slices.Contains(services, s) {
			return true
		}
	}
	return t.Selector != nil && len(t.Selector.MatchLabels) > 0 && resource.LabelsMatch(labels, t.Selector.MatchLabels)
}

// policyTargets returns a test of whether the server says policy p applies
// to a workload (namespace/name): how selector targets reach a Service.
func (rel Related) policyTargets(p *resource.Resource) func(string) bool {
	st := rel.policy(p)
	return func(wl string) bool { return st != nil && slices.Contains(st.Workloads, wl) }
}

// policy returns the server's status of an AuthorizationPolicy, or nil.
func (rel Related) policy(p *resource.Resource) *apiwire.PolicyStatus {
	for i, st := range rel.Policies {
		if st.Name == p.Metadata.Name && st.Namespace == p.Metadata.Namespace {
			return &rel.Policies[i]
		}
	}
	return nil
}

// Describe writes a resource for a person: its metadata, its spec in
// words, and what Related holds about it.
func Describe(w io.Writer, r *resource.Resource, rel Related, o TableOptions) error {
	d := &describer{o: o}
	d.field("Kind", string(r.Kind))
	d.field("Name", r.Metadata.Name)
	if r.Kind.Namespaced() {
		d.field("Namespace", r.Metadata.Namespace)
	}
	d.field("Labels", labels(r.Metadata.Labels))
	switch s := r.Spec.(type) {
	case *resource.MeshSpec:
		d.mesh(s)
	case *resource.ServiceSpec:
		d.service(r.Metadata.Name, s, rel)
	case *resource.WorkloadSpec:
		d.workload(s, rel)
	case *resource.RouteSpec:
		d.route(s)
	case *resource.TrafficPolicySpec:
		d.trafficPolicy(s)
	case *resource.AuthorizationPolicySpec:
		d.authorizationPolicy(r, s, rel)
	default:
		return fmt.Errorf("describe has no layout for kind %s: use get -o yaml", r.Kind)
	}
	_, err := w.Write(d.buf.Bytes())
	return err
}

// describer accumulates a description.
type describer struct {
	buf bytes.Buffer
	o   TableOptions
}

// fieldWidth is the column values start at, past the longest key.
const fieldWidth = 18

// field writes "Key:" padded to fieldWidth, then the value, cut to fit.
func (d *describer) field(k, v string) {
	if d.o.Width > fieldWidth {
		v = truncate(v, d.o.Width-fieldWidth)
	}
	fmt.Fprintf(&d.buf, "%-*s%s\n", fieldWidth, k+":", v)
}

// none writes a heading with nothing under it.
func (d *describer) none(title string) {
	fmt.Fprintf(&d.buf, "%s: <none>\n", title)
}

// section writes a heading and a table indented under it, or "<none>".
func (d *describer) section(title string, t *table) {
	if len(t.rows) == 0 {
		d.none(title)
		return
	}
	fmt.Fprintf(&d.buf, "%s:\n", title)
	o := d.o
	if o.Width > 2 {
		o.Width -= 2
	}
	var b bytes.Buffer
	t.write(&b, o)
	for _, line := range strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n") {
		d.buf.WriteString("  " + line)
	}
	d.buf.WriteString("\n")
}

// lines writes a heading and one indented line each, or "<none>".
func (d *describer) lines(title string, ls []string) {
	if len(ls) == 0 {
		d.none(title)
		return
	}
	fmt.Fprintf(&d.buf, "%s:\n", title)
	for _, l := range ls {
		if d.o.Width > 2 {
			l = truncate(l, d.o.Width-2)
		}
		fmt.Fprintf(&d.buf, "  %s\n", l)
	}
}

func (d *describer) mesh(s *resource.MeshSpec) {
	mtls, ca := resource.MTLSStrict, "builtin"
	if s.MTLS != nil && s.MTLS.Mode != "" {
		mtls = s.MTLS.Mode
	}
	if s.CA != nil && s.CA.Type != "" {
		ca = s.CA.Type
	}
	d.field("Trust domain", s.TrustDomain)
	d.field("mTLS", mtls)
	d.field("CA", ca)
	if s.CA != nil {
		if s.CA.CertFile != "" {
			d.field("CA cert", s.CA.CertFile)
		}
		if s.CA.SocketPath != "" {
			d.field("SPIRE socket", s.CA.SocketPath)
		}
	}
	d.field("SVID TTL", orDash(string(s.SVIDTTL)))
}

func (d *describer) service(name string, s *resource.ServiceSpec, rel Related) {
	d.field("Served by", "service accounts "+strings.Join(resource.AllowedServiceAccounts(name, s), ", "))
	ports := &table{headers: []string{"NAME", "PORT", "PROTOCOL", "TARGET-PORT"}, gap: 3}
	for _, p := range s.Ports {
		tp := "-"
		if p.TargetPort != 0 {
			tp = strconv.FormatUint(uint64(p.TargetPort), 10)
		}
		ports.rows = append(ports.rows, []string{p.Name, strconv.FormatUint(uint64(p.Port), 10), p.Protocol, tp})
	}
	d.section("Ports", ports)
	eps := &table{headers: []string{"ADDRESS", "PORTS", "WORKLOAD", "LOCALITY", "LABELS", "HEALTH"}, gap: 3}
	if rel.Service != nil {
		for _, ep := range rel.Service.Endpoints {
			eps.rows = append(eps.rows, []string{ep.Address, portMap(ep.Ports), orDash(ep.Workload), locality(&ep.Locality), labels(ep.Labels), ep.Health})
		}
	} else {
		for _, ep := range s.Endpoints {
			port := "-"
			if ep.Port != 0 {
				port = strconv.FormatUint(uint64(ep.Port), 10)
			}
			eps.rows = append(eps.rows, []string{ep.Address, port, "-", locality(ep.Locality), labels(ep.Labels), "static"})
		}
	}
	d.section("Endpoints", eps)
	if rel.Service != nil && len(rel.Service.Excluded) > 0 {
		ex := &table{headers: []string{"WORKLOAD", "ADDRESS", "SERVICE-ACCOUNT"}, gap: 3}
		for _, w := range rel.Service.Excluded {
			ex.rows = append(ex.rows, []string{w.Workload, w.Address, w.ServiceAccount})
		}
		d.section("Excluded (service account not allowed, no traffic)", ex)
	}
	d.targeting(rel)
}

func (d *describer) workload(s *resource.WorkloadSpec, rel Related) {
	d.field("Address", s.Address)
	d.field("Services", orDash(strings.Join(s.Services, ", ")))
	ports := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		ports[i] = fmt.Sprintf("%s=%d", p.Name, p.Port)
		if p.AppPort != 0 {
			ports[i] += fmt.Sprintf("→%d", p.AppPort)
		}
	}
	d.field("Ports", orDash(strings.Join(ports, ", ")))
	d.field("Workload labels", labels(s.Labels))
	d.field("Locality", locality(s.Locality))
	d.field("Service account", orDash(s.ServiceAccount))
	if s.Weight != 0 {
		d.field("Weight", strconv.FormatUint(uint64(s.Weight), 10))
	}
	d.targeting(rel)
}

// targeting writes the Routes, TrafficPolicies and AuthorizationPolicies
// that apply to a Service or Workload.
func (d *describer) targeting(rel Related) {
	routes := &table{headers: []string{"NAME", "SERVICE", "RULES"}, gap: 3}
	for _, r := range rel.Routes {
		s := r.Spec.(*resource.RouteSpec)
		routes.rows = append(routes.rows, []string{r.Metadata.Name, routeService(s), strconv.Itoa(len(s.Rules))})
	}
	d.section("Routes", routes)
	tps := &table{headers: []string{"NAME", "SERVICE", "SUMMARY"}, gap: 3}
	for _, r := range rel.TrafficPolicies {
		s := r.Spec.(*resource.TrafficPolicySpec)
		tps.rows = append(tps.rows, []string{r.Metadata.Name, s.Service, orDash(strings.Join(trafficSummary(s), "; "))})
	}
	d.section("TrafficPolicies", tps)
	aps := &table{headers: []string{"NAME", "MODE", "ENFORCEMENT", "REVISION", "TARGETS"}, gap: 3,
		paint: func(col int, cell string) string {
			if col == 1 || col == 2 {
				return stateColour(cell)
			}
			return ""
		}}
	for _, r := range rel.AuthorizationPolicies {
		s := r.Spec.(*resource.AuthorizationPolicySpec)
		enf, rev := "-", "-"
		if st := rel.policy(r); st != nil {
			enf, rev = enforcement(*st), orDash(st.Revision)
		}
		aps.rows = append(aps.rows, []string{r.Metadata.Name, mesh.PolicyMode(s), enf, rev, targetsText(s.Targets)})
	}
	d.section("AuthorizationPolicies", aps)
}

func (d *describer) route(s *resource.RouteSpec) {
	d.field("Service", routeService(s))
	var rules []string
	for i, r := range s.Rules {
		rules = append(rules, fmt.Sprintf("%d. %s", i+1, RuleSummary(r)))
	}
	d.lines("Rules", rules)
}

func (d *describer) trafficPolicy(s *resource.TrafficPolicySpec) {
	d.field("Service", s.Service)
	d.lines("Settings", trafficSummary(s))
}

func (d *describer) authorizationPolicy(r *resource.Resource, s *resource.AuthorizationPolicySpec, rel Related) {
	d.field("Targets", targetsText(s.Targets))
	d.field("Mode", mesh.PolicyMode(s))
	d.field("Failure mode", mesh.PolicyFailureMode(s))
	q := s.Query
	if q == "" {
		q = resource.DefaultQuery
	}
	d.field("Query", q)
	if len(s.Data) > 0 {
		d.field("Data", fmt.Sprintf("%d bytes of JSON", len(s.Data)))
	}
	mods := make([]string, len(s.Modules))
	for i, m := range s.Modules {
		mods[i] = fmt.Sprintf("%s (%d lines)", m.Name, strings.Count(strings.TrimSuffix(m.Rego, "\n"), "\n")+1)
	}
	d.lines("Modules", mods)
	st := rel.policy(r)
	if st == nil {
		d.field("Compiled", "unknown (the server gave no policy status)")
		return
	}
	if !st.Compiled {
		d.field("Compiled", "no: "+st.Error)
		return
	}
	d.field("Compiled", "yes, revision "+orDash(st.Revision))
	enf := st.Enforcement
	if st.Reason != "" {
		enf += " (" + st.Reason + ")"
	}
	if st.Location != "" {
		enf += " at " + st.Location
	}
	d.field("Enforcement", enf)
	if st.Proxyless != "" {
		d.field("Proxyless", st.Proxyless)
	}
	d.lines("Workloads", st.Workloads)
	d.field("Decisions", decisionsText(st.Decisions))
	proxies := &table{headers: []string{"PROXY", "ACKED-REVISION", "CURRENT", "ALLOW", "DENY", "WOULD-DENY", "ERROR"}, gap: 3}
	for _, p := range st.Proxies {
		row := []string{p.ID, orDash(p.AckedRevision), strconv.FormatBool(p.Current), "-", "-", "-", "-"}
		if c := p.Decisions; c != nil {
			row = append(row[:3], fmt.Sprint(c.Allow), fmt.Sprint(c.Deny), fmt.Sprint(c.WouldDeny), fmt.Sprint(c.Error))
		}
		proxies.rows = append(proxies.rows, row)
	}
	d.section("Proxies", proxies)
}

// decisionsText sums a policy's reported decisions on one line; a dry-run
// policy's would-denies are what its author reads before enforcing it.
func decisionsText(c apiwire.DecisionCounts) string {
	if c == (apiwire.DecisionCounts{}) {
		return "none reported yet"
	}
	return fmt.Sprintf("allow %d, deny %d, would-deny %d, error %d", c.Allow, c.Deny, c.WouldDeny, c.Error)
}
