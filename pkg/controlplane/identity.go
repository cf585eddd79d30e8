package controlplane

import (
	"context"
	"fmt"
	"net"
	"sync"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/service"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// identityLogger names the identity subsystem's logger.
const identityLogger = "identity"

// insecureWarning is printed, and logged, when xDS is plaintext.
const insecureWarning = `WARNING: --insecure-xds: xDS is served in PLAINTEXT without client certificates.
Any process that can reach the xDS port gets any proxy's configuration, and
the identity service (attestation, SVIDs, registrations) is off. Use this for
local development only.`

// meshSpec reads the stored Mesh's spec with defaults, before the first
// snapshot exists.
func meshSpec(ctx context.Context, st store.Store) (resource.MeshSpec, error) {
	rs, rev, err := st.List(ctx, resource.KindMesh)
	if err != nil {
		return resource.MeshSpec{}, fmt.Errorf("reading the Mesh: %w", err)
	}
	return mesh.New(rev, rs).Mesh, nil
}

// startIdentity loads the CA and the join tokens, and, unless xDS is
// plaintext, the serving certificate and the identity service.
func (c *ControlPlane) startIdentity(ctx context.Context) error {
	spec, err := meshSpec(ctx, c.store)
	if err != nil {
		return err
	}
	sec, ok := c.store.(store.Secrets)
	if !ok {
		return fmt.Errorf("the %s store keeps no secrets: the CA needs them", c.store.Kind())
	}
	caCfg := identity.CAConfig{TrustDomain: spec.TrustDomain, Type: identity.CATypeBuiltin}
	if spec.CA != nil {
		switch spec.CA.Type {
		case "", identity.CATypeBuiltin:
		case identity.CATypeProvided:
			caCfg.Type, caCfg.CertFile, caCfg.KeyFile = identity.CATypeProvided, spec.CA.CertFile, spec.CA.KeyFile
		default:
			return fmt.Errorf("the Mesh's CA type %q is not supported by this embassy-cp: use builtin or provided", spec.CA.Type)
		}
	}
	if c.cfg.CACertFile != "" || c.cfg.CAKeyFile != "" {
		if c.cfg.CACertFile == "" || c.cfg.CAKeyFile == "" {
			return fmt.Errorf("--ca-cert-file and --ca-key-file go together: give both")
		}
		caCfg.Type, caCfg.CertFile, caCfg.KeyFile = identity.CATypeProvided, c.cfg.CACertFile, c.cfg.CAKeyFile
	}
	if c.ca, err = identity.LoadOrCreateCA(sec, caCfg, nil); err != nil {
		return fmt.Errorf("the mesh CA: %w", err)
	}
	if c.tokens, err = identity.NewTokens(sec, nil); err != nil {
		return err
	}
	c.log.Info("mesh CA loaded", "trust_domain", c.ca.TrustDomain().Name(), "type", caCfg.Type)
	if c.cfg.InsecureXDS {
		return nil
	}
	host, _, _ := net.SplitHostPort(c.cfg.XDSAddr)
	logger := c.cfg.Logger.Named(identityLogger)
	if c.serverTLS, err = service.NewServerTLS(c.ca, host, c.cfg.XDSServerNames, 0, nil, logger); err != nil {
		return err
	}
	c.identity, err = service.New(service.Config{
		CA:            c.ca,
		Tokens:        c.tokens,
		Store:         c.store,
		Applier:       c.applier,
		Secrets:       sec,
		Mesh:          func() resource.MeshSpec { return c.snapshot().Mesh },
		LeaseTTL:      c.cfg.LeaseTTL,
		SweepInterval: c.cfg.LeaseSweepInterval,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	return c.identity.RestoreLeases(ctx)
}

// certificates adapts the identity service's records for the API.
func (c *ControlPlane) certificates() []api.WorkloadCertificate {
	if c.identity == nil {
		return nil
	}
	recs := c.identity.Issuances()
	out := make([]api.WorkloadCertificate, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.WorkloadCertificate{
			Workload: r.Workload, SPIFFEID: r.SPIFFEID, Serial: r.Serial,
			NotAfter: r.NotAfter, IssuedAt: r.IssuedAt, FirstIssuedAt: r.FirstIssuedAt,
		})
	}
	return out
}

// trustDomainWatch reports, once per new value, a Mesh trust domain that
// differs from the CA's: changing it needs a restart (every SVID and the
// bundle change with it), so it is never half-applied to a running CA.
type trustDomainWatch struct {
	mu       sync.Mutex
	reported string
}

func (c *ControlPlane) checkTrustDomain(snap *mesh.Snapshot) {
	if c.ca == nil {
		return
	}
	running, want := c.ca.TrustDomain().Name(), snap.Mesh.TrustDomain
	c.tdWatch.mu.Lock()
	defer c.tdWatch.mu.Unlock()
	if want == running {
		c.tdWatch.reported = ""
		return
	}
	if c.tdWatch.reported == want {
		return
	}
	c.tdWatch.reported = want
	c.log.Warn("the Mesh's trust domain changed; restart embassy-cp to apply it (SVIDs are issued for the running trust domain until then)",
		"running", running, "mesh", want)
}
