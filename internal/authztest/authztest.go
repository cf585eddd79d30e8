// Package authztest serves a policy bundle from the agent's real
// ext_authz Check server on a unix socket, as Envoy reaches it, for the
// tests that hold another form of a policy (RBAC, what-if) against it.
package authztest

import (
	"os"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// Serve loads b into a new engine, serves it with the Check server's
// default options, and returns a client of it and the engine. At cleanup
// the client closes, the server stops, and a Serve that failed fails the
// test.
func Serve(t testing.TB, b *compile.Bundle) (authv3.AuthorizationClient, *engine.Engine) {
	t.Helper()
	e := engine.New()
	if err := e.Load(b); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are short; t.TempDir's can be too long.
	dir, err := os.MkdirTemp("", "authz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	lis, err := extauthz.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := extauthz.New(e, extauthz.Options{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	conn := grpctest.Dial(t, "unix://"+filepath.Join(dir, dataplane.AuthzSocket))
	return authv3.NewAuthorizationClient(conn), e
}
