package echo

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// WhoamiMethod answers with the server's view of its caller, as a Peer in
// JSON.
const WhoamiMethod = "/" + ServiceName + "/Whoami"

// Peer is what a server saw of the caller of Whoami: whether the
// connection was TLS and, when the caller presented a certificate, its
// SPIFFE ID (the URI SAN), serial and validity start. A test compares these
// with the certificate the caller's agent wrote, to tell which SVID a
// connection was made with.
type Peer struct {
	// Server is the answering server's name.
	Server string `json:"server"`
	// Security is "tls" or "insecure" (the connection's credentials).
	Security string `json:"security"`
	// SPIFFEID is the caller certificate's spiffe:// URI SAN.
	SPIFFEID string `json:"spiffeId,omitempty"`
	// Serial is the caller certificate's serial number in lowercase hex.
	Serial string `json:"serial,omitempty"`
	// NotBefore is when the caller certificate became valid.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	// Address is the caller's address as the server saw it.
	Address string `json:"address"`
}

// SerialHex formats a certificate serial the way Peer.Serial holds it.
func SerialHex(c *x509.Certificate) string { return fmt.Sprintf("%x", c.SerialNumber) }

// SPIFFEIDOf returns c's spiffe:// URI SAN, or "" when it has none.
func SPIFFEIDOf(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// peerOf describes the caller of the call in ctx.
func peerOf(ctx context.Context, server string) Peer {
	out := Peer{Server: server, Security: "insecure"}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return out
	}
	if p.Addr != nil {
		out.Address = p.Addr.String()
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return out
	}
	out.Security = "tls"
	if certs := info.State.PeerCertificates; len(certs) > 0 {
		leaf := certs[0]
		nb := leaf.NotBefore.UTC()
		out.SPIFFEID, out.Serial, out.NotBefore = SPIFFEIDOf(leaf), SerialHex(leaf), &nb
	}
	return out
}

func (s *Server) whoami(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	b, err := json.Marshal(peerOf(ctx, s.opts.Name))
	if err != nil {
		return nil, err
	}
	return wrapperspb.String(string(b)), nil
}

// Whoami asks the server behind cc what it saw of this caller.
func Whoami(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (Peer, error) {
	v, err := Invoke(ctx, cc, WhoamiMethod, "", opts...)
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return Peer{}, fmt.Errorf("Whoami answered %q: %w", v, err)
	}
	return p, nil
}
