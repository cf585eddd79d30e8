package controlplane

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/client"

	"embassy.dev/embassy/internal/syncbuf"
)

func TestStatusAPIReportsTheStreamIdentityToReadTokens(t *testing.T) {
	dir := t.TempDir()
	var logs syncbuf.Buffer
	cp := startCP(t, dir, &logs)
	t.Cleanup(func() { cp.Close() })
	applyYAML(t, cp, meshShop)
	if !strings.Contains(logs.String(), "read token in "+filepath.Join(dir, api.ReadTokenFile)) {
		t.Fatalf("the read token's path is not printed:\n%s", logs.String())
	}
	readTok, err := client.ReadTokenFile(filepath.Join(dir, api.ReadTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), readTok) {
		t.Fatal("the read token was printed")
	}

	web, _ := attest(t, cp, "shop", "web")
	ads := dialXDS(t, cp, &web)
	if _, err := fetchClusters(t, ads, "web-1.shop"); err != nil {
		t.Fatal(err)
	}
	reader := client.New("http://"+cp.APIAddr(), readTok)
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps, err := reader.Proxies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 && ps[0].Identity != "" {
			if ps[0].Identity != "spiffe://embassy.local/ns/shop/sa/web" || ps[0].Workload != "web-1" || ps[0].Namespace != "shop" {
				t.Fatalf("proxy = %+v", ps[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy never showed with its identity: %+v", ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := reader.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Store.Kind != "bbolt" || st.Counts.Services != 1 || st.Counts.ConnectedProxies != 1 || len(st.Roots) == 0 || st.Roots[0].SecondsToExpiry <= 0 || st.LastPush == nil {
		t.Fatalf("status = %+v", st)
	}
	_, err = reader.Apply(ctx, []client.File{{Name: "x.yaml", Content: meshShop}}, true)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusForbidden {
		t.Fatalf("apply with the read token: %v", err)
	}
}

func TestAnonymousReadsNeedALoopbackAPI(t *testing.T) {
	_, err := Start(context.Background(), Config{DataDir: t.TempDir(), Store: "memory", XDSAddr: "127.0.0.1:0", APIAddr: "0.0.0.0:0", AnonymousReads: true, InsecureXDS: true})
	if err == nil || !strings.Contains(err.Error(), "--anonymous-reads is only allowed when the API listens on a loopback address") {
		t.Fatalf("Start with anonymous reads on 0.0.0.0: %v", err)
	}
	dir := t.TempDir()
	own := filepath.Join(dir, "reader")
	if err := os.WriteFile(own, []byte("my-read-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	cp := startCP(t, dir, &logs, func(c *Config) { c.AnonymousReads = true; c.ReadTokenFile = own })
	t.Cleanup(func() { cp.Close() })
	if _, err := client.New("http://"+cp.APIAddr(), "").Status(context.Background()); err != nil {
		t.Fatalf("anonymous loopback read: %v", err)
	}
	if _, err := client.New("http://"+cp.APIAddr(), "my-read-token").Proxies(context.Background()); err != nil {
		t.Fatalf("read with --read-token-file's token: %v", err)
	}
}
