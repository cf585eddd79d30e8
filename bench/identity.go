package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/identity"
	idclient "embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/spiffe"
)

// IdentityConfig configures MeasureIdentity.
type IdentityConfig struct {
	// Duration is how long each measurement runs.
	Duration time.Duration
	// Clients is how many signers (goroutines or agents with their own
	// connection) run at once.
	Clients int
	Log     io.Writer
}

// IdentityResult is one signing path's throughput.
type IdentityResult struct {
	Name    string
	Signed  int
	Elapsed time.Duration
}

// PerSecond is the result's SVIDs per second.
func (r IdentityResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Signed) / r.Elapsed.Seconds()
}

// MeasureIdentity measures SVIDs signed per second along three paths in
// the same run: the raw baseline (x509.CreateCertificate with a P-256
// root and nothing else), the CA's SignCSR, and the real identity API of a
// TLS control plane (Attest with a join token, then Renew with the SVID),
// each with cfg.Clients concurrent signers.
func MeasureIdentity(ctx context.Context, cfg IdentityConfig) ([]IdentityResult, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 2 * time.Second
	}
	if cfg.Clients < 1 {
		cfg.Clients = 2
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	dir, err := os.MkdirTemp("", "embassy-bench-identity-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Store: "memory", XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0"})
	if err != nil {
		return nil, fmt.Errorf("starting a TLS control plane: %w", err)
	}
	defer cp.Close()

	var out []IdentityResult
	steps := []struct {
		name string
		run  newWorker
	}{
		{"raw x509 sign (baseline)", func(context.Context) (func() error, func(), error) { return rawSigner() }},
		{"CA.SignCSR", func(context.Context) (func() error, func(), error) { return caSigner(cp.CA()) }},
		{"Attest over TLS gRPC", func(ctx context.Context) (func() error, func(), error) { return attester(ctx, cp) }},
		{"Renew over mTLS gRPC", func(ctx context.Context) (func() error, func(), error) { return renewer(ctx, cp) }},
	}
	for _, s := range steps {
		logf("identity: %s, %d concurrent for %v...", s.name, cfg.Clients, cfg.Duration)
		r, err := measure(ctx, s.name, cfg, s.run)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// newWorker builds one signer: work signs one SVID, done releases it.
type newWorker func(ctx context.Context) (work func() error, done func(), err error)

// measure runs cfg.Clients workers for cfg.Duration and counts their
// successful signatures.
func measure(ctx context.Context, name string, cfg IdentityConfig, build newWorker) (IdentityResult, error) {
	workers := make([]func() error, 0, cfg.Clients)
	for range cfg.Clients {
		w, done, err := build(ctx)
		if err != nil {
			return IdentityResult{}, err
		}
		defer done()
		workers = append(workers, w)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			var err error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err = w(); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			total += n
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return IdentityResult{Name: name, Signed: total, Elapsed: time.Since(start)}, first
}

// benchID is the identity every path signs for.
var benchID = spiffeid.RequireFromString("spiffe://embassy.local/ns/bench/sa/svc")

// rawSigner signs leaf templates with a P-256 root and nothing else.
func rawSigner() (func() error, func(), error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench root"},
		NotBefore: now, NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	u, _ := url.Parse(benchID.String())
	serial := int64(1)
	return func() error {
		serial++
		leaf := &x509.Certificate{SerialNumber: big.NewInt(serial), URIs: []*url.URL{u},
			NotBefore: now, NotAfter: now.Add(time.Hour), BasicConstraintsValid: true,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		_, err := x509.CreateCertificate(rand.Reader, leaf, root, &leafKey.PublicKey, rootKey)
		return err
	}, func() {}, nil
}

// caSigner calls the CA's SignCSR directly.
func caSigner(ca *identity.CA) (func() error, func(), error) {
	_, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		return nil, nil, err
	}
	return func() error {
		_, err := ca.SignCSR(csr, benchID, time.Hour)
		return err
	}, func() {}, nil
}

// attester is an agent attesting again and again with a multi-use token
// on its own connection.
func attester(ctx context.Context, cp *controlplane.ControlPlane) (func() error, func(), error) {
	token, _, err := cp.Tokens().Create("bench", "svc", "", time.Hour, false)
	if err != nil {
		return nil, nil, err
	}
	_, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		return nil, nil, err
	}
	c, err := idclient.Dial(cp.XDSAddr(), cp.CA().Bundle(), nil)
	if err != nil {
		return nil, nil, err
	}
	return func() error {
		_, err := c.Attest(ctx, &wire.AttestRequest{Token: token, Csr: csr})
		return err
	}, func() { c.Close() }, nil
}

// renewers numbers the renewers' workload names.
var renewers atomic.Int64

// renewer is an agent that attested once and renews again and again, each
// time as an agent does after a rotation: on a new connection that
// presents its latest SVID. (The control plane renews only an SVID it
// knows to be among an identity's latest few, so renewing with the first
// SVID over and over is refused, and TLS presents a client certificate
// only in the handshake.) Each renewer attests under a workload name of its
// own, as each agent does: the control plane keeps one issuance record per
// identity and workload name, and a second attestation under the same name
// replaces the first's.
func renewer(ctx context.Context, cp *controlplane.ControlPlane) (func() error, func(), error) {
	token, _, err := cp.Tokens().Create("bench", "svc", "", time.Hour, true)
	if err != nil {
		return nil, nil, err
	}
	key, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		return nil, nil, err
	}
	first, err := idclient.Dial(cp.XDSAddr(), cp.CA().Bundle(), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := first.Attest(ctx, &wire.AttestRequest{Token: token, Csr: csr, Workload: fmt.Sprintf("renewer-%d", renewers.Add(1))})
	first.Close()
	if err != nil {
		return nil, nil, err
	}
	crt, _, err := idclient.ParseSVID(resp, key)
	if err != nil {
		return nil, nil, err
	}
	return func() error {
		c, err := idclient.Dial(cp.XDSAddr(), cp.CA().Bundle(), func() *tls.Certificate { return crt })
		if err != nil {
			return err
		}
		defer c.Close()
		resp, err := c.Renew(ctx, csr)
		if err != nil {
			return err
		}
		crt, _, err = idclient.ParseSVID(resp, key)
		return err
	}, func() {}, nil
}

// WriteIdentityTable prints the identity results with each path's rate as
// a share of the raw baseline's.
func WriteIdentityTable(w io.Writer, rs []IdentityResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tSVIDs\tseconds\tSVIDs/s\tvs raw\t")
	var raw float64
	for i, r := range rs {
		if i == 0 {
			raw = r.PerSecond()
		}
		ratio := "-"
		if raw > 0 {
			ratio = fmt.Sprintf("%.2f", r.PerSecond()/raw)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t\n", r.Name, r.Signed, r.Elapsed.Seconds(), r.PerSecond(), ratio)
	}
	tw.Flush()
}
