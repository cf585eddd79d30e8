package controlplane

import (
	"context"
	"fmt"
	"net"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/identity/service"
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

// startIdentity loads the CA and the join tokens, and, unless xDS is
// plaintext, the serving certificate and the identity service.
func (c *ControlPlane) startIdentity(ctx context.Context) error {
	sec, ok := c.store.(store.Secrets)
	if !ok {
		return fmt.Errorf("the %s store keeps no secrets: the CA needs them", c.store.Kind())
	}
	caCfg, err := c.caConfig(ctx, sec)
	if err != nil {
		return err
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
		// Agents report cumulative counts; the service hands on what is
		// new since each agent's previous report, so the counter only
		// ever grows.
		OnAuthzDecisions: c.authzDecided,
		Events:           c.obs.events,
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
