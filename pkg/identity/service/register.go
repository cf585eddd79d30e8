package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// Agent registrations are Workloads annotated RegisteredByAnnotation:
// RegisteredByAgent.
const (
	RegisteredByAnnotation = "embassy.dev/registered-by"
	RegisteredByAgent      = "agent"
)

// leases orders registrations, deregistrations and sweeps on this control
// plane, so a sweep never deletes a Workload whose refresh is in
// progress here; the leases themselves are Config.Leases.
type leases struct {
	mu sync.Mutex
}

func newLeases() *leases { return &leases{} }

// IsAgentRegistered reports whether r was registered by an agent.
func IsAgentRegistered(r *resource.Resource) bool {
	return r != nil && r.Metadata.Annotations[RegisteredByAnnotation] == RegisteredByAgent
}

// register stores the caller's Workload, or refreshes its lease. A refresh
// that changes nothing does not commit.
func (s *Service) register(ctx context.Context, req *wire.RegisterRequest) (*wire.RegisterResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	// An SVID without an issuance record may only keep an unchanged
	// registration alive, so that after a restore from a backup older
	// than its SVID an agent keeps its traffic while it re-attests.
	rec, recorded := s.issued.find(c.id, c.leaf)
	refreshOnly := !recorded && s.cfg.External == ""
	if err := mayUseName(rec, req.Name); err != nil {
		return nil, err
	}
	spec := req.GetSpec().Resource()
	switch spec.ServiceAccount {
	case "":
		spec.ServiceAccount = c.sa
	case c.sa:
	default:
		return nil, status.Errorf(codes.PermissionDenied, "the Workload's serviceAccount %q is not the caller's: the certificate proves %s", spec.ServiceAccount, c.id)
	}
	if err := s.mayServe(ctx, c, rec, spec.Services); err != nil {
		return nil, err
	}
	r := &resource.Resource{
		APIVersion: resource.APIVersion,
		Kind:       resource.KindWorkload,
		Metadata: resource.Metadata{
			Name:        req.Name,
			Namespace:   c.ns,
			Annotations: map[string]string{RegisteredByAnnotation: RegisteredByAgent},
		},
		Spec: &spec,
	}
	key := r.Key()

	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	old, err := s.cfg.Store.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, status.Errorf(codes.Unavailable, "reading %s: %v", key, err)
	case !IsAgentRegistered(old):
		return nil, status.Errorf(codes.FailedPrecondition, "%s was applied by an operator, not registered by an agent: delete it first, or register under another name", key)
	}
	if refreshOnly && (old == nil || !resource.Equal(old, r)) {
		return nil, s.noRecord(c, "a new or changed registration")
	}
	// The lease first: a sweep on another control plane must never find
	// the new Workload without one.
	if err := s.cfg.Leases.GrantLease(ctx, key.String(), s.cfg.LeaseTTL); err != nil {
		return nil, status.Errorf(codes.Unavailable, "granting the lease of %s: %v", key, err)
	}
	if old == nil || !resource.Equal(old, r) {
		res, err := s.cfg.Applier.Apply(ctx, []*resource.Resource{r}, false)
		if err != nil {
			var fe *resource.Errors
			if errors.As(err, &fe) {
				return nil, status.Errorf(codes.InvalidArgument, "the Workload is refused: %v", fe)
			}
			return nil, status.Errorf(codes.Unavailable, "storing %s: %v", key, err)
		}
		for _, w := range res.Warnings {
			s.log.Warn("agent-registered workload stored with a warning", "workload", key.String(), "warning", w)
		}
		if old == nil {
			s.log.Info("workload registered by its agent", "workload", key.String(), "spiffe_id", c.id.String())
		} else {
			s.log.Info("agent-registered workload updated", "workload", key.String(), "spiffe_id", c.id.String())
		}
	}
	if s.cfg.External != "" {
		s.issued.observed(c.id, c.leaf, req.Name, s.cfg.External)
	} else {
		s.issued.registered(c.id, c.leaf, req.Name)
	}
	return &wire.RegisterResponse{LeaseSeconds: uint32(max(1, s.cfg.LeaseTTL/time.Second))}, nil
}

// deregister removes the caller's Workload at once.
func (s *Service) deregister(ctx context.Context, req *wire.DeregisterRequest) (*wire.DeregisterResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := s.scopeOf(c, "deregistration")
	if err != nil {
		return nil, err
	}
	if err := mayUseName(rec, req.Name); err != nil {
		return nil, err
	}
	key := resource.Key{Kind: resource.KindWorkload, Namespace: c.ns, Name: req.Name}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	old, err := s.cfg.Store.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = s.cfg.Leases.DropLease(ctx, key.String())
		return nil, status.Errorf(codes.NotFound, "%s is not registered", key)
	case err != nil:
		return nil, status.Errorf(codes.Unavailable, "reading %s: %v", key, err)
	case !IsAgentRegistered(old):
		return nil, status.Errorf(codes.FailedPrecondition, "%s was applied by an operator: delete it with embassyctl delete", key)
	}
	if sa := old.Spec.(*resource.WorkloadSpec).ServiceAccount; sa != c.sa {
		return nil, status.Errorf(codes.PermissionDenied, "%s has service account %q, the caller is %s", key, sa, c.id)
	}
	if _, err := s.cfg.Applier.Delete(ctx, []resource.Key{key}, false); err != nil {
		return nil, deleteStatus(err, key)
	}
	if err := s.cfg.Leases.DropLease(ctx, key.String()); err != nil {
		s.log.Warn("ending the lease of a deregistered workload failed; it ends on its own", "workload", key.String(), "error", err)
	}
	s.log.Info("workload deregistered by its agent", "workload", key.String(), "spiffe_id", c.id.String())
	return &wire.DeregisterResponse{}, nil
}

// mayUseName checks the workload name against the caller's token
// restriction, carried by rec, the issuance record of its certificate.
func mayUseName(rec Issuance, name string) error {
	if name == "" {
		return status.Error(codes.InvalidArgument, "the Workload has no name: register the workload's name (its node id is <name>.<namespace>)")
	}
	if rec.OnlyWorkload != "" && rec.OnlyWorkload != name {
		return status.Errorf(codes.PermissionDenied, "this agent's join token allows only workload %q, not %q", rec.OnlyWorkload, name)
	}
	return nil
}

// mayServe checks every service a registration names against the
// caller's join token restriction (in rec) and against the Service's allowed
// service accounts (its default when the Service is not applied yet), so
// an identity never puts itself behind a service the operator did not
// give it.
func (s *Service) mayServe(ctx context.Context, c caller, rec Issuance, services []string) error {
	for _, name := range services {
		if len(rec.OnlyServices) > 0 && !slices.Contains(rec.OnlyServices, name) {
			return status.Errorf(codes.PermissionDenied, "this agent's join token allows only services [%s], not %q: create a token with --service %s, or drop it from --service",
				strings.Join(rec.OnlyServices, ", "), name, name)
		}
		key := resource.Key{Kind: resource.KindService, Namespace: c.ns, Name: name}
		var spec *resource.ServiceSpec
		r, err := s.cfg.Store.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return status.Errorf(codes.Unavailable, "reading %s: %v", key, err)
		default:
			spec = r.Spec.(*resource.ServiceSpec)
		}
		if !resource.MayServe(name, spec, c.sa) {
			return status.Error(codes.PermissionDenied, resource.NotAllowedToServe(c.ns, name, spec, c.sa))
		}
	}
	return nil
}

func deleteStatus(err error, key resource.Key) error {
	var nf *apply.NotFoundError
	var refused *apply.RefusedError
	switch {
	case errors.As(err, &nf):
		return status.Errorf(codes.NotFound, "%s is not registered", key)
	case errors.As(err, &refused):
		return status.Error(codes.FailedPrecondition, refused.Error())
	default:
		return status.Errorf(codes.Unavailable, "deleting %s: %v", key, err)
	}
}

// RestoreLeases gives every agent-registered Workload in the store that
// holds no live lease a fresh one: leases in memory end with a restart,
// and the agents that held them refresh within a lease if they are still
// alive. Leases kept in etcd outlive the restart and are left as they are.
func (s *Service) RestoreLeases(ctx context.Context) error {
	rs, _, err := s.cfg.Store.List(ctx, resource.KindWorkload)
	if err != nil {
		return err
	}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	live, err := s.cfg.Leases.LiveLeases(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range rs {
		if IsAgentRegistered(r) && !live[r.Key().String()] {
			if err := s.cfg.Leases.GrantLease(ctx, r.Key().String(), s.cfg.LeaseTTL); err != nil {
				return err
			}
			n++
		}
	}
	if n > 0 {
		s.log.Info("agent registrations found in the store get a fresh lease", "workloads", n, "lease", s.cfg.LeaseTTL)
	}
	return nil
}

// Run removes agent-registered Workloads whose lease lapsed, when this
// control plane leads (Config.Leads), and forgets authorization reports
// older than AuthzReportTTL, every SweepInterval, until ctx is done.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.cfg.Leads() {
				s.Sweep(ctx)
			}
			s.reports.prune(s.cfg.Now())
		}
	}
}

// Sweep removes, once, every agent-registered Workload whose lease lapsed.
// One that fails to go stays lapsed, and the next sweep tries again.
func (s *Service) Sweep(ctx context.Context) {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	rs, _, err := s.cfg.Store.List(ctx, resource.KindWorkload)
	if err != nil {
		s.log.Error("listing workloads to sweep lapsed registrations failed", "error", err)
		return
	}
	live, err := s.cfg.Leases.LiveLeases(ctx)
	if err != nil {
		s.log.Error("reading the registration leases failed; nothing swept", "error", err)
		return
	}
	for _, r := range rs {
		key := r.Key()
		if !IsAgentRegistered(r) || live[key.String()] {
			continue
		}
		if _, err := s.cfg.Applier.Delete(ctx, []resource.Key{key}, false); err != nil {
			s.log.Error("removing a lapsed agent registration failed", "workload", key.String(), "error", err)
			continue
		}
		s.log.Info("agent registration lapsed; workload removed", "workload", key.String())
	}
}
