package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity"
)

// fixtureCARoots is a bundle after two rotations: a superseded root
// waiting for its SVIDs to expire, the active root, and a new root inside
// its publish delay.
func fixtureCARoots() *apiwire.CARootsResponse {
	tenYears := fixedNow.AddDate(10, 0, 0)
	return &apiwire.CARootsResponse{TrustDomain: "embassy.local", Roots: []identity.RootInfo{
		{Fingerprint: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Subject: "O=Embassy,CN=Embassy root CA 20250501T120000Z",
			NotAfter: fixedNow.AddDate(9, 11, 0), SignsFrom: fixedNow.AddDate(0, -1, 0), RetireAfter: fixedNow.Add(23 * time.Hour)},
		{Fingerprint: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Subject: "O=Embassy,CN=Embassy root CA 20250601T105900Z",
			NotAfter: tenYears, Active: true, SignsFrom: fixedNow.Add(-time.Hour)},
		{Fingerprint: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Subject: "O=Embassy,CN=Embassy root CA 20250601T120000Z",
			NotAfter: tenYears, SignsFrom: fixedNow.Add(time.Minute)},
	}}
}

func TestGoldenCARoots(t *testing.T) {
	for _, c := range []struct {
		name string
		o    TableOptions
	}{{"ca-roots", plain}, {"ca-roots-80", narrow}, {"ca-roots-colour", TableOptions{Colour: true, Width: 120, Location: time.UTC}}} {
		var b bytes.Buffer
		if err := PrintCARoots(&b, fixtureCARoots(), c.o); err != nil {
			t.Fatal(err)
		}
		if c.o.Colour && !strings.Contains(b.String(), ansiGreen+"yes"+ansiReset) {
			t.Errorf("%s: the active root is not green:\n%q", c.name, b.String())
		}
		if !c.o.Colour && strings.Contains(b.String(), "…") {
			t.Errorf("%s: a cell was cut:\n%s", c.name, b.String())
		}
		checkFits(t, stripANSI(b.String()), c.o.Width)
		golden(t, c.name, b.String())
	}
}

func TestGoldenCARotation(t *testing.T) {
	var b bytes.Buffer
	if err := PrintCARotation(&b, fixtureCARoots(), fixedNow, plain); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(b.String(), "\n")
	if !strings.Contains(first, "published root 2c26b46b68ffc68f") || !strings.HasSuffix(first, "(in 1m0s)") {
		t.Fatalf("the summary does not name the new root and its wait: %q", first)
	}
	golden(t, "ca-rotate", b.String())
}
