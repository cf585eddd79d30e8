package resource

// egress checks an egress list (spec.egress of a Workload or Service):
// each entry names a service, a namespace or both, as DNS labels, and no
// entry is listed twice. Whether the names exist is a warning of
// CheckReferences: a caller is often applied before what it calls.
func (v *validator) egress(es []Egress) {
	seen := map[Egress]int{}
	for i, e := range es {
		path := index("spec.egress", i)
		if e.Service == "" && e.Namespace == "" {
			v.errorf(path, "set service (a service of this namespace, or of namespace when both are set) or namespace (every service of it)")
			continue
		}
		v.dnsLabel(path+".service", e.Service, false)
		v.dnsLabel(path+".namespace", e.Namespace, false)
		if j, dup := seen[e]; dup {
			v.errorf(path, "duplicate entry %s (also spec.egress[%d])", e, j)
		} else {
			seen[e] = i
		}
	}
}
