//go:build kube

package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/internal/kubetest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/wire"
)

// testKubeAttestation: embassy-agent attests with a TokenRequest token
// bound to its Pod and gets its service account's SVID; a token of
// another service account, for another audience, unbound, or bound to a
// deleted Pod gets nothing.
func testKubeAttestation(t *testing.T, k *kubetest.Cluster, cpKubeconfig string) {
	const ns = "kattest"
	dir := t.TempDir()
	kubeNamespace(t, k, ns, "web", "other")
	kubePod(t, k, ns, "web-0", "web", "127.0.0.1", nil)
	kubePod(t, k, ns, "other-0", "other", "127.0.0.1", nil)
	gone := kubePod(t, k, ns, "gone-0", "web", "127.0.0.1", nil)

	p := start(t, "embassy-cp", "--data-dir", dir+"/data", "--xds-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
		"--trust-domain", "example.org", "--kubernetes", "--kubeconfig", cpKubeconfig, "--namespaces", ns)
	m := p.waitFor(servingRE, 20*time.Second)
	cp := &controlPlane{proc: p, dataDir: dir + "/data", xds: m[1], api: m[2]}
	bundlePEM := cp.ctlStdout(t, "bundle")
	bundle := writeFile(t, dir, "bundle.pem", bundlePEM)

	webTok := k.Token(t, ns, "web", dataplane.KubernetesTokenAudience, "web-0")
	webToken := writeFile(t, dir, "web.token", webTok)
	adir := agentDir(t, "web-0")
	began := time.Now()
	agent := start(t, "embassy-agent", "--cp", cp.xds, "--k8s-token-file", webToken, "--trust-bundle", bundle,
		"--workload", "web-0."+ns, "--socket-dir", filepath.Join(adir, "sock"))
	agent.waitFor(regexp.MustCompile(`attested as spiffe://example.org/ns/kattest/sa/web;`), 30*time.Second)
	t.Logf("figure: agent start to SVID with a service-account token %s", time.Since(began).Round(time.Millisecond))
	if strings.Contains(agent.output()+cp.output(), webTok) {
		t.Fatal("the service-account token appears in a log")
	}

	c := dialIdentity(t, cp.xds, bundlePEM)
	attest := func(token, workload, san string) error {
		_, err := c.Attest(kctx(t), &wire.AttestRequest{KubernetesToken: token, Csr: csrFor(t, san), Workload: workload})
		return err
	}
	// The figure: TokenReview, the Pod's read and the signature.
	again := k.Token(t, ns, "web", dataplane.KubernetesTokenAudience, "web-0")
	began = time.Now()
	if err := attest(again, "web-0", ""); err != nil {
		t.Fatalf("a second attestation of web-0: %v", err)
	}
	t.Logf("figure: one Attest call with a service-account token %s", time.Since(began).Round(time.Millisecond))

	other := k.Token(t, ns, "other", dataplane.KubernetesTokenAudience, "other-0")
	expect := func(what string, err error, code codes.Code, msg string) {
		t.Helper()
		if status.Code(err) != code || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %s with %q", what, err, code, msg)
		}
	}
	expect("another service account's token for web's SVID", attest(other, "other-0", "spiffe://example.org/ns/kattest/sa/web"), codes.InvalidArgument, "may only hold")
	expect("another Pod's token for web-0", attest(other, "web-0", ""), codes.PermissionDenied, "bound to Pod kattest/other-0")
	expect("a token for another audience", attest(k.Token(t, ns, "web", "https://elsewhere.example", "web-0"), "web-0", ""), codes.Unauthenticated, "audience")
	expect("a token bound to no Pod", attest(k.Token(t, ns, "web", dataplane.KubernetesTokenAudience, ""), "web-0", ""), codes.Unauthenticated, "not bound to a Pod")

	goneToken := k.Token(t, ns, "web", dataplane.KubernetesTokenAudience, "gone-0")
	if err := k.Client.CoreV1().Pods(ns).Delete(kctx(t), gone.Name, metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}); err != nil {
		t.Fatal(err)
	}
	waitPodGone(t, k, ns, gone.Name)
	expect("a token bound to a deleted Pod", attest(goneToken, "gone-0", ""), codes.Unauthenticated, "")
}

// waitPodGone waits until the API server no longer has the Pod.
func waitPodGone(t *testing.T, k *kubetest.Cluster, ns, name string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if _, err := k.Client.CoreV1().Pods(ns).Get(kctx(t), name, metav1.GetOptions{}); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Pod %s/%s was not deleted within 30s", ns, name)
}
