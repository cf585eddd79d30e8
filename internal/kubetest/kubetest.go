// Package kubetest runs a real Kubernetes API server for tests: the
// kube-apiserver that scripts/build-kube-apiserver.sh builds from
// k8s.io/kubernetes, against an embedded etcd (kube-etcd), on loopback,
// with a static token for an admin user, service-account signing keys
// and so the TokenRequest and TokenReview APIs. There is no kubelet and
// no controller manager: tests write what those would (Pod status,
// EndpointSlices, service accounts) through the API.
package kubetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"embassy.dev/embassy/internal/nettest"
)

// BinEnv names the directory holding kube-apiserver and kube-etcd;
// `make test-k8s` sets it to what scripts/build-kube-apiserver.sh built.
const BinEnv = "EMBASSY_KUBE_BIN"

// readyWithin bounds the API server's start, a liveness limit for a
// loaded machine: it is ready in about 25 s on 2 busy cores.
const readyWithin = 3 * time.Minute

// Cluster is a running API server.
type Cluster struct {
	// URL is the API server's https URL on 127.0.0.1.
	URL string
	// AdminToken is the static token of a system:masters user.
	AdminToken string
	// Kubeconfig is a kubeconfig file for the admin user.
	Kubeconfig string
	// Config is the admin's client configuration.
	Config *rest.Config
	// Client is a client of the admin user.
	Client kubernetes.Interface
	// ServiceAccountIssuer is the iss claim of service-account tokens.
	ServiceAccountIssuer string
}

// Start runs etcd and the API server for the test; both stop when it
// ends. It fails the test, saying how to build them, when BinEnv does not
// name a directory holding them.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir(t)
	dir := t.TempDir()
	etcdURL := startEtcd(t, bin, dir)
	c := &Cluster{AdminToken: randomToken(t), ServiceAccountIssuer: "https://kubernetes.default.svc.cluster.local"}
	addr := nettest.FreeAddr(t)
	c.URL = "https://" + addr
	args := c.apiserverArgs(t, dir, addr, etcdURL)
	p := startProcess(t, filepath.Join(bin, "kube-apiserver"), filepath.Join(dir, "kube-apiserver.log"), args...)
	caFile := filepath.Join(dir, "certs", "apiserver.crt")
	c.waitReady(t, p, caFile)
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	c.writeKubeconfig(t, c.Kubeconfig, caFile, "admin", c.AdminToken)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatalf("kubetest: reading the kubeconfig it wrote: %v", err)
	}
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	return c
}

// binDir is BinEnv's directory, checked to hold both binaries.
func binDir(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(BinEnv)
	for _, name := range []string{"kube-apiserver", "kube-etcd"} {
		if bin == "" {
			break
		}
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Fatalf("kubetest: %s=%s has no %s: run the Kubernetes tests with make test-k8s, which builds it (%v)", BinEnv, bin, name, err)
		}
	}
	if bin == "" {
		t.Fatalf("kubetest: %s is not set: run the Kubernetes tests with make test-k8s, which builds kube-apiserver once and sets it", BinEnv)
	}
	return bin
}

// startEtcd runs kube-etcd and returns its client URL once it serves.
func startEtcd(t testing.TB, bin, dir string) string {
	t.Helper()
	client, peer := "http://"+nettest.FreeAddr(t), "http://"+nettest.FreeAddr(t)
	cmd := exec.Command(filepath.Join(bin, "kube-etcd"), "-dir", filepath.Join(dir, "etcd"), "-listen", client, "-peer", peer)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf := createLog(t, filepath.Join(dir, "kube-etcd.log"))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubetest: starting kube-etcd: %v", err)
	}
	t.Cleanup(func() { stop(cmd) })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("kubetest: kube-etcd did not start:\n%s", tail(logf.Name()))
		}
	case <-time.After(time.Minute):
		t.Fatalf("kubetest: kube-etcd was not ready within a minute:\n%s", tail(logf.Name()))
	}
	return client
}

// randomToken is a fresh admin bearer token.
func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitReady polls /readyz until the API server says ok, failing the test
// with its log when it exits or the bound passes.
func (c *Cluster) waitReady(t testing.TB, p *process, caFile string) {
	t.Helper()
	// The serving certificate the API server makes for itself is not on
	// disk before it serves; readiness is all this probe learns, and the
	// clients made afterwards verify the certificate.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(readyWithin)
	for i := 0; time.Now().Before(deadline) && i < int(readyWithin/(200*time.Millisecond)); i++ {
		select {
		case <-p.exited:
			t.Fatalf("kubetest: kube-apiserver exited:\n%s", tail(p.log))
		default:
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, c.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if _, err := os.Stat(caFile); err == nil {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kubetest: kube-apiserver was not ready within %s:\n%s", readyWithin, tail(p.log))
}

// writeKubeconfig writes to path a kubeconfig that authenticates as
// user with token, trusting the API server's self-signed certificate in
// caFile.
func (c *Cluster) writeKubeconfig(t testing.TB, path, caFile, user, token string) {
	t.Helper()
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %[1]q, certificate-authority: %[2]q}
users:
- name: %[3]s
  user: {token: %[4]q}
contexts:
- name: test
  context: {cluster: test, user: %[3]s}
current-context: test
`, c.URL, caFile, user, token)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	s := string(b)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
