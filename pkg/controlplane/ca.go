package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// The trust domain is chosen once, when a data dir's CA is made, and never
// moves: every SVID, the trust bundle and the xDS certificate belong to it,
// and a builtin CA refuses stored roots of another one. So the stored Mesh,
// the CA and the running snapshot always agree on it: a start that would
// make them disagree fails, and so does an apply of a Mesh naming another
// one (checkMeshTrustDomain), instead of storing a Mesh that is never
// served.

// meshSpec reads the stored Mesh's spec with defaults, before the first
// snapshot exists, and says whether a Mesh is stored at all.
func meshSpec(ctx context.Context, st store.Store) (resource.MeshSpec, bool, error) {
	rs, rev, err := st.List(ctx, resource.KindMesh)
	if err != nil {
		return resource.MeshSpec{}, false, fmt.Errorf("reading the Mesh: %w", err)
	}
	return mesh.New(rev, rs).Mesh, len(rs) > 0, nil
}

// caConfig works out the mesh CA's configuration from the flags, the
// stored Mesh and the stored CA, and refuses a start on which they
// disagree about the trust domain. spireSocket is the SPIRE agent's
// socket when SPIRE issues the SVIDs (--spire-socket, else the stored
// Mesh's ca.socketPath when its ca.type is spire); the builtin CA is then
// loaded only to keep the data dir's trust domain.
func (c *ControlPlane) caConfig(ctx context.Context, sec store.Secrets) (caCfg identity.CAConfig, spireSocket string, err error) {
	spec, meshStored, err := meshSpec(ctx, c.store)
	if err != nil {
		return identity.CAConfig{}, "", err
	}
	caCfg = identity.CAConfig{Type: identity.CATypeBuiltin}
	meshType := ""
	if spec.CA != nil {
		meshType = spec.CA.Type
		switch spec.CA.Type {
		case "", identity.CATypeBuiltin:
		case identity.CATypeProvided:
			caCfg.Type, caCfg.CertFile, caCfg.KeyFile = identity.CATypeProvided, spec.CA.CertFile, spec.CA.KeyFile
		case CATypeSPIRE:
			spireSocket = spec.CA.SocketPath
		default:
			return caCfg, "", fmt.Errorf("the Mesh's CA type %q is not supported by this embassy-cp: use builtin, provided or spire", spec.CA.Type)
		}
	}
	if c.cfg.CACertFile != "" || c.cfg.CAKeyFile != "" {
		if c.cfg.CACertFile == "" || c.cfg.CAKeyFile == "" {
			return caCfg, "", fmt.Errorf("--ca-cert-file and --ca-key-file go together: give both")
		}
		caCfg.Type, caCfg.CertFile, caCfg.KeyFile = identity.CATypeProvided, c.cfg.CACertFile, c.cfg.CAKeyFile
	}
	if c.cfg.SPIRESocket != "" {
		spireSocket = c.cfg.SPIRESocket
	}
	if spireSocket != "" && caCfg.Type == identity.CATypeProvided {
		return caCfg, "", fmt.Errorf("SPIRE is configured as the mesh's CA (%s) and so is a provided CA (%s): choose one",
			spireBy(c.cfg.SPIRESocket), providedBy(meshType))
	}
	// A provided CA keeps no roots in the store; only a builtin one's
	// stored roots pin the trust domain.
	storedCA := ""
	if caCfg.Type == identity.CATypeBuiltin {
		if storedCA, err = storedCATrustDomain(sec); err != nil {
			return caCfg, "", err
		}
	}
	caCfg.TrustDomain, err = chooseTrustDomain(c.cfg.TrustDomain, spec.TrustDomain, meshStored, storedCA)
	return caCfg, spireSocket, err
}

// spireBy says where SPIRE was configured.
func spireBy(flag string) string {
	if flag != "" {
		return "--spire-socket"
	}
	return "the stored Mesh's spec.ca.type is spire"
}

// providedBy says where a provided CA was configured.
func providedBy(meshType string) string {
	if meshType == identity.CATypeProvided {
		return "the stored Mesh's spec.ca.type is provided"
	}
	return "--ca-cert-file and --ca-key-file"
}

// chooseTrustDomain returns the trust domain to serve: flag (--trust-domain)
// when set, else the stored Mesh's, else the stored CA's, else the default.
// It fails, naming both trust domains and the way out, when the stored Mesh
// or the stored CA (storedCA; "" when there is none) is of another one.
func chooseTrustDomain(flag, meshTD string, meshStored bool, storedCA string) (string, error) {
	td := flag
	switch {
	case flag != "":
		if _, err := spiffeid.TrustDomainFromString(flag); err != nil {
			return "", fmt.Errorf("--trust-domain %q: %v (use a lowercase DNS-like name such as %q)", flag, err, dataplane.DefaultTrustDomain)
		}
	case meshStored:
		td = meshTD
	case storedCA != "":
		td = storedCA
	default:
		td = dataplane.DefaultTrustDomain
	}
	if meshStored && meshTD != td {
		return "", fmt.Errorf("embassy-cp was started with --trust-domain %s, but the Mesh stored in this data dir names trust domain %s: "+
			"start without --trust-domain (or with --trust-domain %s) to keep this data dir, or start with --trust-domain %s on a new --data-dir to use %s",
			td, meshTD, meshTD, td, td)
	}
	if storedCA != "" && storedCA != td {
		if meshStored {
			// Only an earlier embassy-cp, which stored a Mesh of another
			// trust domain and asked for a restart, leaves this behind.
			return "", fmt.Errorf("the CA stored in this data dir serves trust domain %s, but the stored Mesh names %s, and a CA cannot move to another trust domain: "+
				"start embassy-cp with --trust-domain %s on a new --data-dir and apply the resources again",
				storedCA, td, td)
		}
		// Without a Mesh, only --trust-domain can differ from the CA.
		return "", fmt.Errorf("the CA stored in this data dir serves trust domain %s, but embassy-cp was started with --trust-domain %s: "+
			"start without --trust-domain (or with --trust-domain %s) to keep this data dir, or start with --trust-domain %s on a new --data-dir to use %s",
			storedCA, td, storedCA, td, td)
	}
	return td, nil
}

// storedCATrustDomain returns the trust domain of the builtin CA's stored
// roots, "" when none are stored. A secret it cannot read is left for
// identity.LoadOrCreateCA to report.
func storedCATrustDomain(sec store.Secrets) (string, error) {
	raw, err := sec.GetSecret(identity.SecretRoots)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the stored CA %q: %w", identity.SecretRoots, err)
	}
	var st struct {
		TrustDomain string `json:"trustDomain"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return "", nil
	}
	return st.TrustDomain, nil
}

// checkMeshTrustDomain is the Applier's check that refuses a Mesh naming a
// trust domain other than the running CA's.
func (c *ControlPlane) checkMeshTrustDomain(rs []*resource.Resource) error {
	if c.ca == nil {
		return nil
	}
	running := c.ca.TrustDomain().Name()
	var errs resource.Errors
	for _, r := range rs {
		spec, ok := r.Spec.(*resource.MeshSpec)
		if !ok {
			continue
		}
		// The snapshot reads an empty trust domain as the default.
		want := spec.TrustDomain
		if want == "" {
			want = dataplane.DefaultTrustDomain
		}
		if want == running {
			continue
		}
		errs = append(errs, apply.FieldError(r, "spec.trustDomain", fmt.Sprintf(
			"the control plane's CA serves trust domain %s; start embassy-cp with --trust-domain %s on a new data dir to use %s",
			running, want, want)))
	}
	if len(errs) == 0 {
		return nil
	}
	return &errs
}

// servedTrustDomain sets snap's trust domain to the CA's. They differ only
// when no Mesh is stored, when the snapshot has the default trust domain
// but the CA may have been made for --trust-domain.
func (c *ControlPlane) servedTrustDomain(snap *mesh.Snapshot) {
	if c.ca != nil {
		snap.Mesh.TrustDomain = c.ca.TrustDomain().Name()
	}
}

// The data dir's record (store.RecordFile) names the builtin CA's roots
// once it has made them. A start that finds no CA in the store although
// the record names one has lost it (a database emptied or replaced by
// hand), and making a new CA would break every agent and client while
// looking healthy: guardCA refuses it, and recordCA refuses a stored CA
// that shares no root with the record.

// recordedStore is the store's data dir record, when it keeps one.
func (c *ControlPlane) recordedStore() (*store.Bolt, bool) {
	b, ok := c.store.(*store.Bolt)
	return b, ok
}

// guardCA says whether LoadOrCreateCA will make a new builtin CA, and
// refuses when the data dir's record says the store had one.
func (c *ControlPlane) guardCA(sec store.Secrets, caCfg identity.CAConfig) (creating bool, err error) {
	if caCfg.Type != identity.CATypeBuiltin {
		return false, nil
	}
	_, err = sec.GetSecret(identity.SecretRoots)
	if !errors.Is(err, store.ErrNotFound) {
		// A stored CA, or one LoadOrCreateCA reports it cannot read.
		return false, nil
	}
	b, ok := c.recordedStore()
	if !ok || len(b.Record().CAFingerprints) == 0 {
		return true, nil
	}
	rec := b.Record()
	return false, fmt.Errorf("data dir %s had a mesh CA for trust domain %s (root %s, says %s), but the store holds none: "+
		"a new CA would be trusted by no agent, so embassy-cp does not make one; %s",
		c.cfg.DataDir, rec.TrustDomain, rec.CAFingerprints[len(rec.CAFingerprints)-1], store.RecordFile,
		fmt.Sprintf(store.RestoreHint, c.cfg.DataDir))
}

// recordCA writes the builtin CA's roots into the data dir's record, after
// checking that the CA loaded is the one the record names. caType is the
// CA's; a provided CA's roots are files, not the store's, and are not
// recorded.
func (c *ControlPlane) recordCA(caType string) error {
	b, ok := c.recordedStore()
	if !ok || c.ca == nil || caType != identity.CATypeBuiltin {
		return nil
	}
	return recordRoots(b, c.ca)
}

// recordRoots writes ca's trust domain and roots into b's record, refusing
// a CA that shares no root with the roots the record names.
func recordRoots(b *store.Bolt, ca *identity.CA) error {
	roots := ca.Roots()
	fps := make([]string, 0, len(roots))
	for _, r := range roots {
		fps = append(fps, r.Fingerprint)
	}
	rec := b.Record()
	if len(rec.CAFingerprints) > 0 && !slices.ContainsFunc(fps, func(fp string) bool { return slices.Contains(rec.CAFingerprints, fp) }) {
		dir := filepath.Dir(b.Path())
		return fmt.Errorf("the mesh CA stored in data dir %s (roots %s) is not the one its record %s names (roots %s): "+
			"the database was replaced; %s", dir, strings.Join(fps, ", "), store.RecordFile,
			strings.Join(rec.CAFingerprints, ", "), fmt.Sprintf(store.RestoreHint, dir))
	}
	return b.RecordCA(ca.TrustDomain().Name(), fps)
}

// caStartMessage is the log line of the CA at start: a new CA is never
// reported as loaded.
func caStartMessage(created bool) string {
	if created {
		return "mesh CA created"
	}
	return "mesh CA loaded"
}
