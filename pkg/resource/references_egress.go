package resource

import "fmt"

// egress warns about egress entries that name nothing yet. They are not
// errors: callers are often applied before what they call, and an entry
// that names nothing only means the proxy is sent nothing for it until
// it exists.
func (c *refChecker) egress(r *Resource, es []Egress) {
	for i, e := range es {
		ns, svc := e.Target(r.Metadata.Namespace)
		path := fmt.Sprintf("spec.egress[%d]", i)
		if svc != "" {
			if _, ok := c.services[nsName{ns, svc}]; !ok {
				c.warnf(r, path, "service %s does not exist yet; its callers are sent nothing for it until it does", nsName{ns, svc})
			}
			continue
		}
		if !c.namespaceHasServices(ns) {
			c.warnf(r, path, "namespace %s has no services yet; its callers are sent nothing for it until it does", ns)
		}
	}
}

func (c *refChecker) namespaceHasServices(ns string) bool {
	for n := range c.services {
		if n.namespace == ns {
			return true
		}
	}
	return false
}
