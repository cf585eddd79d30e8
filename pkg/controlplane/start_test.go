package controlplane

import (
	"context"
	"net"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/syncbuf"
)

// A start that fails at its last step, binding the API, has by then opened
// the store, loaded the CA, made the xDS server and bound the xDS port:
// the one cleanup path must release them all, so that a second start on
// the same data dir and ports succeeds (the store's file lock would
// otherwise time out, and the port be in use).
func TestAFailedStartReleasesWhatItOpened(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	xdsAddr := nettest.FreeAddr(t)
	_, err = Start(context.Background(), Config{DataDir: dir, XDSAddr: xdsAddr, APIAddr: taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "--api-addr "+taken.Addr().String()) {
		t.Fatalf("start on a taken API address: %v, want an error naming --api-addr", err)
	}
	cp := startCP(t, dir, &syncbuf.Buffer{}, func(c *Config) { c.XDSAddr = xdsAddr })
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
}
