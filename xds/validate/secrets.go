package validate

import (
	"errors"

	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

// errKeyMaterial is reported for a certificate or key inside a served
// resource.
var errKeyMaterial = errors.New("TlsCertificate carries a private key or certificate inline; keys never leave the workload's node, and certificates reach proxies over SDS or as files from the agent")

// keyMaterial refuses a TlsCertificate with any content (private key,
// PKCS#12, key provider or chain, inline or by file name): the control
// plane never holds a workload's key, so a served one can only be a
// mistake that would leak it to every proxy of the shape.
func keyMaterial(m proto.Message) error {
	c, ok := m.(*tls.TlsCertificate)
	if !ok {
		return nil
	}
	if c.GetPrivateKey() != nil || c.GetPkcs12() != nil || c.GetPrivateKeyProvider() != nil || c.GetCertificateChain() != nil {
		return errKeyMaterial
	}
	return nil
}
