package kubetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiserverArgs writes the API server's token file and service-account
// keys under dir and returns its flags: loopback only, RBAC, and the
// service-account issuer that TokenRequest needs.
func (c *Cluster) apiserverArgs(t testing.TB, dir, addr, etcdURL string) []string {
	t.Helper()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.AdminToken+",admin,admin,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, pub := writeSigningKey(t, dir)
	host, port, _ := strings.Cut(addr, ":")
	return []string{
		"--etcd-servers=" + etcdURL,
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--bind-address=" + host,
		"--advertise-address=" + host,
		"--secure-port=" + port,
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + c.ServiceAccountIssuer,
		"--service-account-key-file=" + pub,
		"--service-account-signing-key-file=" + key,
		"--service-cluster-ip-range=10.96.0.0/16",
		// The reconciler of the "kubernetes" Service's endpoints refuses
		// a loopback address; nothing here needs them.
		"--endpoint-reconciler-type=none",
		// Nothing here runs Pods; the scheduler-facing and cloud parts
		// only cost CPU on a shared machine.
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	}
}

// writeSigningKey writes the service-account token signing key and its
// public half.
func writeSigningKey(t testing.TB, dir string) (keyFile, pubFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, pubFile
}

// process is a started program and the file its output goes to.
type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// startProcess runs path with its output in logPath; it is stopped when
// the test ends.
func startProcess(t testing.TB, path, logPath string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(path, args...)
	logf := createLog(t, logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubetest: starting %s: %v", filepath.Base(path), err)
	}
	p := &process{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { stopWaited(cmd, p.exited) })
	return p
}

// createLog creates a log file that is closed when the test ends.
func createLog(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// stop ends a process that nothing else waits for.
func stop(cmd *exec.Cmd) {
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stopWaited(cmd, exited)
}

// stopWaited sends SIGTERM, then SIGKILL after 10 s.
func stopWaited(cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}
