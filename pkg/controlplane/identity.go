package controlplane

import (
	"context"
	"fmt"
	"net"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/apiwire"
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
	sec, err := c.caSecrets()
	if err != nil {
		return err
	}
	caCfg, spireSocket, err := c.caConfig(ctx, sec)
	if err != nil {
		return err
	}
	creating, err := c.guardCA(sec, caCfg)
	if err != nil {
		return err
	}
	if c.ca, err = identity.LoadOrCreateCA(sec, caCfg, nil); err != nil {
		return fmt.Errorf("the mesh CA: %w", err)
	}
	if err := c.recordCA(caCfg.Type); err != nil {
		return err
	}
	c.trust = c.ca
	if c.tokens, err = identity.NewTokens(sec, nil); err != nil {
		return err
	}
	c.log.Info(caStartMessage(creating), "trust_domain", c.ca.TrustDomain().Name(), "type", caCfg.Type)
	if c.cfg.InsecureXDS {
		if spireSocket != "" {
			return fmt.Errorf("SPIRE is the mesh's CA (%s), but --insecure-xds turns TLS and the identity service off: drop one", spireBy(c.cfg.SPIRESocket))
		}
		return nil
	}
	logger := c.cfg.Logger.Named(identityLogger)
	var issuer service.CA = c.ca
	if spireSocket != "" {
		fmt.Fprintf(c.cfg.Out, "embassy-cp: waiting for the SPIRE agent at %s ...\n", spireSocket)
		if c.spire, err = startSPIRE(ctx, spireSocket, c.ca.TrustDomain(), c.cfg.SPIRETimeout, logger.Named("spire")); err != nil {
			return err
		}
		c.trust = c.spire
		issuer = spireBacked{CA: c.ca, spire: c.spire}
		c.serverTLS = service.NewSourceServerTLS(c.spire.certificate)
	} else {
		host, _, _ := net.SplitHostPort(c.cfg.XDSAddr)
		if c.serverTLS, err = service.NewServerTLS(c.ca, host, c.cfg.XDSServerNames, 0, nil, logger); err != nil {
			return err
		}
	}
	external := ""
	if c.spire != nil {
		external = "the SPIRE agent at " + spireSocket
	}
	// Control planes sharing an etcd store share the registration leases
	// in it, so the death of the one an agent registered with ends none.
	var leases service.Leases
	if e, shared := c.store.(*store.Etcd); shared {
		leases = e
	}
	c.identity, err = service.New(service.Config{
		CA:            issuer,
		Trust:         c.trust,
		External:      external,
		Tokens:        c.tokens,
		PodTokens:     c.cfg.PodTokens,
		Store:         c.store,
		Applier:       c.applier,
		Secrets:       sec,
		Mesh:          func() resource.MeshSpec { return c.snapshot().Mesh },
		LeaseTTL:      c.cfg.LeaseTTL,
		SweepInterval: c.cfg.LeaseSweepInterval,
		Leases:        leases,
		Leads:         c.leader.isLeader,
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

// trustBundle is the mesh's trust bundle as the API shows it: SPIRE's
// roots when SPIRE is the CA, else the CA's.
func (c *ControlPlane) trustBundle() api.TrustBundle {
	if c.spire != nil {
		return spireBacked{CA: c.ca, spire: c.spire}
	}
	return c.ca
}

// certificates adapts the identity service's records for the API.
func (c *ControlPlane) certificates() []apiwire.WorkloadCertificate {
	if c.identity == nil {
		return nil
	}
	recs := c.identity.Issuances()
	out := make([]apiwire.WorkloadCertificate, 0, len(recs))
	for _, r := range recs {
		out = append(out, apiwire.WorkloadCertificate{
			Workload: r.Workload, SPIFFEID: r.SPIFFEID, Serial: r.Serial,
			NotAfter: r.NotAfter, IssuedAt: r.IssuedAt, FirstIssuedAt: r.FirstIssuedAt, Issuer: r.Issuer,
		})
	}
	return out
}
