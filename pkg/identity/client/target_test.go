package client

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// reached reports whether a call got to a server: serveAs's servers
// answer every call Unimplemented.
func reached(t *testing.T, c *Client) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Bundle(ctx)
	return status.Code(err) == codes.Unimplemented
}

// TestDialFailsOverBetweenReplicas lists a dead replica first: calls
// reach the live one. With two live replicas, stopping the one in use
// moves the calls to the other.
func TestDialFailsOverBetweenReplicas(t *testing.T) {
	ca, err := identity.LoadOrCreateCA(store.NewMemory(), identity.CAConfig{TrustDomain: "example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cpID := dataplane.ControlPlaneID(ca.TrustDomain())
	// The live replica first: the dead one's port, free once closed, can
	// then never be the live one's.
	live, _ := serveAs(t, ca, cpID)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	_ = lis.Close()
	c, err := Dial(dead+","+live, ca.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !reached(t, c) {
		t.Fatal("a call with the first replica dead did not reach the second")
	}

	first, stopFirst := serveAs(t, ca, cpID)
	second, _ := serveAs(t, ca, cpID)
	c2, err := Dial(first+","+second, ca.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !reached(t, c2) {
		t.Fatal("no call reached either replica")
	}
	stopFirst()
	// A call in flight when the replica went may fail; the channel then
	// connects to the next. Bounded: 50 calls.
	for i := 0; ; i++ {
		if reached(t, c2) {
			break
		}
		if i == 50 {
			t.Fatal("calls never reached the second replica after the first stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestControlPlaneTargetRefusesBadLists(t *testing.T) {
	for addrs, want := range map[string]string{
		"":                        "expected host:port",
		"127.0.0.1:1,":            "expected host:port",
		"127.0.0.1:1,noport":      "expected host:port",
		"127.0.0.1:1,127.0.0.1:1": "listed twice",
	} {
		if _, _, err := ControlPlaneTarget(addrs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", addrs, err, want)
		}
	}
	if target, opts, err := ControlPlaneTarget("127.0.0.1:15010"); err != nil || target != "127.0.0.1:15010" || opts != nil {
		t.Errorf("one address: %q %v %v, want it as it is", target, opts, err)
	}
}

func FuzzControlPlaneTarget(f *testing.F) {
	for _, s := range []string{"127.0.0.1:15010", "a:1,b:2", "[::1]:1, [::2]:2", ",", "a:1,a:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addrs string) {
		target, opts, err := ControlPlaneTarget(addrs)
		if err != nil {
			return
		}
		if n := strings.Count(addrs, ",") + 1; (n == 1) != (opts == nil) || target == "" {
			t.Fatalf("%q: target %q with %d options for %d addresses", addrs, target, len(opts), n)
		}
	})
}
