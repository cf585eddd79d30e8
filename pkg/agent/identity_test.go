package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/identity/wire"
)

func TestParseSVIDResponse(t *testing.T) {
	ca := newTestCA(t)
	key, good := ca.signedFor(t, testID, time.Hour)
	svid, roots, err := parseSVIDResponse(good, key)
	if err != nil {
		t.Fatal(err)
	}
	if svid.ID != testID || len(roots) != 1 || !roots[0].Equal(ca.root) {
		t.Fatalf("parsed %s with %d roots", svid.ID, len(roots))
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherCA := newTestCA(t)
	for _, tc := range []struct {
		name, want string
		edit       func(r *wire.SVIDResponse)
		key        *ecdsa.PrivateKey
	}{
		{"certificate-for-another-key", "not for the key", nil, other},
		{"spiffe-id-mismatch", "response says", func(r *wire.SVIDResponse) { r.SpiffeId = "spiffe://test.embassy/ns/shop/sa/other" }, key},
		{"bad-spiffe-id", "SPIFFE ID", func(r *wire.SVIDResponse) { r.SpiffeId = "https://x" }, key},
		{"no-chain", "no certificate chain", func(r *wire.SVIDResponse) { r.Chain = nil }, key},
		{"garbage-chain", "chain certificate 0", func(r *wire.SVIDResponse) { r.Chain = [][]byte{[]byte("x")} }, key},
		{"empty-bundle", "empty bundle", func(r *wire.SVIDResponse) { r.Bundle = nil }, key},
		{"bundle-of-another-ca", "verify", func(r *wire.SVIDResponse) { r.Bundle = [][]byte{otherCA.root.Raw} }, key},
		{"root-as-leaf", "", func(r *wire.SVIDResponse) { r.Chain = [][]byte{ca.root.Raw} }, key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := proto.CloneOf(good)
			if tc.edit != nil {
				tc.edit(r)
			}
			_, _, err := parseSVIDResponse(r, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// FuzzSVIDResponse feeds the parser what a control plane could send: it
// must never panic, and whatever it accepts is an SVID for the agent's key.
func FuzzSVIDResponse(f *testing.F) {
	ca := newTestCA(f)
	key, good := ca.signedFor(f, testID, time.Hour)
	for _, seed := range []*wire.SVIDResponse{
		good,
		{SpiffeId: "spiffe://test.embassy/ns/a/sa/b"},
		{Chain: [][]byte{{0, 0, 0}}, Bundle: [][]byte{{0, 0, 0}}},
		{},
	} {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := new(wire.SVIDResponse)
		if err := proto.Unmarshal(data, resp); err != nil {
			return
		}
		svid, roots, err := parseSVIDResponse(resp, key)
		if err != nil {
			return
		}
		if !publicKeyEqual(svid.Certificates[0].PublicKey, key.Public()) || len(roots) == 0 || svid.ID.String() != resp.SpiffeId {
			t.Fatalf("accepted an SVID that is not for the key or the ID: %s", svid.ID)
		}
	})
}
