package controlplane

import (
	"errors"
	"time"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/identity"
)

// errExternalRoots refuses a rotation when the mesh trusts roots that
// embassy-cp's CA does not issue (SPIRE's): rotating the CA would change
// nothing peers rely on.
var errExternalRoots = errors.New("the mesh's trust bundle comes from an external CA (SPIRE), which rotates its own roots: rotate them there, not through embassy-cp")

// caAPIOptions adds the CA's write operations to the API's options.
func (c *ControlPlane) caAPIOptions(o api.Options) api.Options {
	if c.ca == nil {
		return o
	}
	// With SPIRE as the CA, the builtin CA's roots are not the mesh's.
	if c.spire != nil {
		o.RotateCA = func() ([]identity.RootInfo, error) {
			c.log.Warn("CA rotation refused", "reason", errExternalRoots)
			return nil, &api.RotateRefusedError{Err: errExternalRoots}
		}
		return o
	}
	o.RotateCA = c.rotateCA
	return o
}

// rotateCA publishes a new root of the mesh CA and returns the bundle's
// roots after it. Only fingerprints and times are logged, never a key.
func (c *ControlPlane) rotateCA() ([]identity.RootInfo, error) {
	if err := c.ca.Rotate(); err != nil {
		if errors.Is(err, identity.ErrCannotRotate) {
			c.log.Warn("CA rotation refused", "reason", err)
			return nil, &api.RotateRefusedError{Err: err}
		}
		c.log.Error("rotating the mesh CA failed; the roots are unchanged", "error", err)
		return nil, err
	}
	// Only the builtin CA rotates; the record must name the new root
	// before the old one retires, or a later start would not know the CA.
	if err := c.recordCA(identity.CATypeBuiltin); err != nil {
		c.log.Error("recording the new root in the data dir's record failed", "error", err)
	}
	roots := c.ca.Roots()
	newest := roots[len(roots)-1]
	c.log.Info("mesh CA root published", "fingerprint", newest.Fingerprint,
		"signs_from", newest.SignsFrom.UTC().Format(time.RFC3339), "roots", len(roots))
	return roots, nil
}
