package controlplane

import "embassy.dev/embassy/pkg/api"

// caAPIOptions adds the CA's write operations to the API's options.
func (c *ControlPlane) caAPIOptions(o api.Options) api.Options { return o }
