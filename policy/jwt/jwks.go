package jwt

import "embassy.dev/embassy/pkg/jwks"

// ParseKeySet reads a JWKS with the model's parser, pkg/jwks, so that a key
// set the control plane fetches is judged as validation judges an inline
// one.
func ParseKeySet(doc []byte) (*jwks.KeySet, error) { return jwks.Parse(doc) }
