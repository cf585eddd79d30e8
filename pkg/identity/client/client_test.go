package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// The client trusts only the control plane: a server whose certificate
// chains to the trust bundle but names a workload fails the handshake with
// a message saying so, while the control plane's certificate passes it
// (the bare server then answers Unimplemented).
func TestClientTrustsOnlyTheControlPlane(t *testing.T) {
	ca, err := identity.LoadOrCreateCA(store.NewMemory(), identity.CAConfig{TrustDomain: "example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	workload, err := dataplane.WorkloadID(ca.TrustDomain(), "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		id      spiffeid.ID
		trusted bool
	}{
		"the control plane": {dataplane.ControlPlaneID(ca.TrustDomain()), true},
		"a workload":        {workload, false},
	} {
		addr, _ := serveAs(t, ca, c.id)
		cl, err := Dial(addr, ca.Bundle(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = cl.Bundle(ctx)
		cancel()
		cl.Close()
		refused := status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "not the control plane")
		if refused == c.trusted || err == nil {
			t.Errorf("a server that is %s: %v", name, err)
		}
	}
}

// serveAs serves gRPC with no services on loopback over TLS with an SVID
// for id, until the test ends or stop is called, and returns its address.
func serveAs(t *testing.T, ca *identity.CA, id spiffeid.ID) (addr string, stop func()) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ca.SignServer(key.Public(), id, nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv.Stop
}
