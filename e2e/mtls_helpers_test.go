package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/echo"
)

// strictMesh is the Mesh document the mTLS tests start from: STRICT mTLS
// in trust domain example.org. Its spec is last, so a test may append
// fields to it before the next document.
const strictMesh = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec:
  trustDomain: example.org
  mtls: {mode: STRICT}
`

// testCA is a throwaway certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCA makes a self-signed CA. uri, when set, is its URI SAN (a
// SPIFFE trust domain CA names its trust domain).
func newTestCA(t *testing.T, cn, uri string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if uri != "" {
		tmpl.URIs = []*url.URL{mustURL(t, uri)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// write stores the CA as PEM files in dir and returns their paths.
func (ca *testCA) write(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	keyFile = writeFile(t, dir, "ca-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// svid issues a client/server leaf with the SPIFFE ID id.
func (ca *testCA) svid(t *testing.T, id string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs:        []*url.URL{mustURL(t, id)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startMTLSCP starts embassy-cp on dataDir with TLS xDS, the identity
// service and the builtin CA, made for trustDomain on a new data dir
// (without --trust-domain when it is "").
func startMTLSCP(t *testing.T, dataDir, xdsAddr, apiAddr, trustDomain string) *controlPlane {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--xds-addr", xdsAddr, "--api-addr", apiAddr, "--log-level", "debug"}
	if trustDomain != "" {
		args = append(args, "--trust-domain", trustDomain)
	}
	p := start(t, "embassy-cp", args...)
	m := p.waitFor(servingRE, 20*time.Second)
	return &controlPlane{proc: p, dataDir: dataDir, xds: m[1], api: m[2]}
}

// ctlStdout runs embassyctl and returns its stdout alone (token create
// prints the token there and what it grants on stderr).
func (c *controlPlane) ctlStdout(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("embassyctl"), args...)
	cmd.Env = append(os.Environ(), "EMBASSY_SERVER=http://"+c.api, "EMBASSY_TOKEN_FILE="+c.dataDir+"/admin-token")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("embassyctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// meshAgent is a running embassy-agent and what it was started with.
type meshAgent struct {
	*proc
	name, sa string
	// dir is its socket dir: svid.pem, svid-key.pem, bundle.pem.
	dir string
	// token is the join token it redeemed.
	token string
}

// startAgent creates a join token for workload name (service account sa,
// namespace default), starts embassy-agent for name.default with it and
// args (such as serverWorkload's) and waits for its PEM files.
func startAgent(t *testing.T, cp *controlPlane, bundle, name, sa string, args ...string) *meshAgent {
	t.Helper()
	dir := agentDir(t, name)
	token := strings.TrimSpace(cp.ctlStdout(t, "token", "create", "--namespace", "default", "--service-account", sa, "--workload", name))
	tokenFile := writeFile(t, dir, "join.token", token+"\n")
	a := launchAgent(t, dir, "embassy-agent", name, append([]string{"--cp", cp.xds, "--token-file", tokenFile, "--trust-bundle", bundle}, args...)...)
	a.sa, a.token = sa, token
	return a
}

// agentDir makes an agent's directory. It is short: unix socket paths
// are limited to 108 bytes.
func agentDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "emb-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// launchAgent starts binName (an embassy-agent under binDir) for
// name.default with its socket dir in dir and args, and waits for its PEM
// files.
func launchAgent(t *testing.T, dir, binName, name string, args ...string) *meshAgent {
	t.Helper()
	sock := filepath.Join(dir, "sock")
	args = append([]string{"--workload", name + ".default", "--socket-dir", sock}, args...)
	a := &meshAgent{proc: start(t, binName, args...), name: name, dir: sock}
	deadline := time.Now().Add(15 * time.Second)
	for a.leafOrNil() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the agent of %s wrote no SVID within 15s:\n%s", name, a.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return a
}

// leafOrNil is the leaf of the agent's svid.pem, nil until it is readable.
func (a *meshAgent) leafOrNil() *x509.Certificate {
	if _, err := os.Stat(filepath.Join(a.dir, "bundle.pem")); err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(a.dir, "svid.pem"))
	if err != nil {
		return nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil
	}
	return c
}

// keyPair loads the agent's current certificate and key, retrying across
// a rotation's two renames.
func (a *meshAgent) keyPair(t *testing.T) tls.Certificate {
	t.Helper()
	var err error
	for range 20 {
		var c tls.Certificate
		if c, err = tls.LoadX509KeyPair(filepath.Join(a.dir, "svid.pem"), filepath.Join(a.dir, "svid-key.pem")); err == nil {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("loading the SVID of %s: %v", a.name, err)
	return tls.Certificate{}
}

// grpcBootstrap writes the proxyless bootstrap of node name.default with
// the agent's cert dir (mTLS xDS) and returns its path.
func grpcBootstrap(t *testing.T, cp *controlPlane, dir, file, node, certDir string) string {
	t.Helper()
	return writeFile(t, dir, file, cp.mustCtl(t, "bootstrap", "grpc", "--workload", node, "--xds-address", cp.xds, "--cert-dir", certDir))
}

// whoamiOver runs echo-client --method Whoami with bootstrap boot (a new
// process, so a new channel and new connections) and returns what the
// server saw.
func whoamiOver(t *testing.T, boot string) echo.Peer {
	t.Helper()
	out, err := exec.Command(bin("echo-client"), "--bootstrap", boot, "--target", "xds:///echo.default:50051",
		"--method", "Whoami", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("echo-client --method Whoami: %v\n%s", err, out)
	}
	var p echo.Peer
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("echo-client --method Whoami printed %q: %v", out, err)
	}
	return p
}

// serverWorkload is the agent flags that register an echo server's
// Workload: it backs service echo on addr's port, labelled version.
func serverWorkload(t *testing.T, addr, version string) []string {
	t.Helper()
	return []string{"--address", "127.0.0.1", "--service", "echo", "--port", "grpc=" + portOf(t, addr), "--label", "version=" + version}
}

// proxyFlavours lists, sorted, the flavours of the connected proxies with
// node id node, as GET /v1/proxies reports them.
func proxyFlavours(t *testing.T, cp *controlPlane, node string) []string {
	t.Helper()
	var res struct {
		Proxies []struct {
			ID      string `json:"id"`
			Flavour string `json:"flavour"`
		} `json:"proxies"`
	}
	if err := json.Unmarshal([]byte(cp.ctlStdout(t, "proxy-status", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Proxies {
		if p.ID == node {
			out = append(out, p.Flavour)
		}
	}
	sort.Strings(out)
	return out
}
