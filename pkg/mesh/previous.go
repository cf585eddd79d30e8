package mesh

// WithPrevious lets New take from prev what prev derived from the very
// same decoded specs: the identity of each unchanged Workload, and the
// endpoints of each Service whose spec and serving workloads are
// unchanged. The control plane passes its last snapshot, whose resources
// the store shares with the next one (store.ListShared), so that one
// changed Workload costs one service's endpoints rather than every
// service's. Specs are compared by pointer: a decoded spec is never
// modified, so the same pointer is the same content. The snapshot equals
// the one New builds without it.
func WithPrevious(prev *Snapshot) Option {
	return func(o *options) { o.prev = prev }
}

// reuseIdentity copies w's service account and SPIFFE ID from p when p
// resolved them from the same spec in the same trust domain.
func (p *Snapshot) reuseIdentity(w *Workload, trustDomain string) bool {
	if p == nil || p.Mesh.TrustDomain != trustDomain {
		return false
	}
	was := p.workloads[ServiceRef{w.Namespace, w.Name}]
	if was == nil || was.Spec != w.Spec {
		return false
	}
	w.ServiceAccount, w.SPIFFEID = was.ServiceAccount, was.SPIFFEID
	return true
}

// reuseEndpoints returns p's endpoints of svc when p built them from the
// same service spec and the same serving workloads, in the same order.
func (p *Snapshot) reuseEndpoints(svc *Service, serving []*Workload) ([]Endpoint, bool) {
	if p == nil {
		return nil, false
	}
	was := p.services[svc.Ref]
	if was == nil || was.Spec != svc.Spec {
		return nil, false
	}
	wasServing := p.serving[svc.Ref]
	if len(wasServing) != len(serving) {
		return nil, false
	}
	for i, w := range serving {
		v := wasServing[i]
		if v.Name != w.Name || v.Spec != w.Spec || v.ServiceAccount != w.ServiceAccount {
			return nil, false
		}
	}
	return was.Endpoints, true
}
